"""Side-by-side timing shared by the benchmarks: contenders alternate within each round, so
machine noise hits all of them alike; each keeps the median of its wall times."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


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


def alternate_records(
    contenders: Mapping[str, Callable[[], dict[str, float]]], rounds: int
) -> dict[str, list[dict[str, float]]]:
    """Run every contender once per round, the order rotating each round (so that none always
    runs right after the same neighbour); returns each contender's records, one per round."""
    names = list(contenders)
    records: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            records[name].append(contenders[name]())
    return records


def median_spread(values: list[float]) -> tuple[float, float]:
    """(median, half the min-to-max range as a fraction of the median)."""
    mid = statistics.median(values)
    return mid, (max(values) - min(values)) / 2 / mid if mid else 0.0
