"""data.batch_size: auto, the search itself (pure: it asks a measuring function).

CUDA: the largest batch whose trial step fits, by doubling and then a binary search between
the last size that fitted and the first that did not. CPU: the batch with the best measured
throughput, doubling while samples/s still improves by more than ``min_gain``.
Both are capped by the training set size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from trainforge.errors import TrainforgeError


class NoBatchFits(TrainforgeError):
    """Not even the smallest trial batch fits in memory."""


@dataclass
class SearchResult:
    """The chosen size, how it was chosen, and every trial: (size, samples/s or None if it
    did not fit)."""

    batch_size: int
    method: str
    trials: list[tuple[int, float | None]] = field(default_factory=list)


def largest_fitting(fits: Callable[[int], bool], cap: int, start: int = 1) -> SearchResult:
    """Doubling from ``start``, then binary search: the largest size ``fits`` accepts."""
    trials: list[tuple[int, float | None]] = []

    def attempt(size: int) -> bool:
        ok = fits(size)
        trials.append((size, 1.0 if ok else None))
        return ok

    size = min(max(1, start), cap)
    if not attempt(size):
        raise NoBatchFits(
            f"data.batch_size: auto: a batch of {size} does not fit in memory; use a smaller "
            "model or training.mixed_precision"
        )
    good, bad = size, None
    while bad is None and good < cap:
        size = min(good * 2, cap)
        if attempt(size):
            good = size
        else:
            bad = size
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        if attempt(mid):
            good = mid
        else:
            bad = mid
    return SearchResult(good, "largest that fits", trials)


def fastest(
    throughput: Callable[[int], float], cap: int, start: int = 8, min_gain: float = 0.05
) -> SearchResult:
    """Doubling from ``start`` while samples/s improves by more than ``min_gain``: the best."""
    trials: list[tuple[int, float | None]] = []
    size = min(max(1, start), cap)
    best, best_rate = size, throughput(size)
    trials.append((size, best_rate))
    while size < cap:
        size = min(size * 2, cap)
        rate = throughput(size)
        trials.append((size, rate))
        if rate <= best_rate * (1 + min_gain):
            break
        best, best_rate = size, rate
    return SearchResult(best, "fastest samples/s", trials)


__all__ = ["NoBatchFits", "SearchResult", "fastest", "largest_fitting"]
