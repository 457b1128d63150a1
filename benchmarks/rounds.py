"""Side-by-side timing shared by the benchmarks: contenders alternate within each round, so
machine noise hits all of them alike; each keeps the median of its wall times."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def alternate(
    contenders: dict[str, Callable[[], float]], rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Run every contender once per round; returns (median seconds, last returned score)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    scores: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            scores[name] = run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}, scores
