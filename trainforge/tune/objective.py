"""Decisions about a trial's numbers: its objective value, what the pruner sees, how many
trials a study still needs. Pure functions of plain lists and numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal


class Diverged(ValueError):
    """The trial's metric became NaN or infinite."""


def objective_value(
    values: Sequence[float], maximize: bool, how: Literal["best", "last"] = "best"
) -> float:
    """A trial's value from its metric after each validation (best or last, in direction)."""
    if not values:
        raise ValueError("the run validated no time, so it has no value for the metric")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise Diverged(f"the metric became {bad[0]} (the run diverged)")
    if how == "last":
        return float(values[-1])
    return float(max(values) if maximize else min(values))


def pruner_value(value: float, metric_mode: Literal["min", "max"], maximize: bool) -> float:
    """An intermediate value as the study's pruner compares it.

    Optuna's pruners compare intermediate values in the study's direction; a metric that runs
    the other way (SPEC prunes on val_loss while maximising val_accuracy) is negated so that
    "better" keeps its meaning.
    """
    same = (metric_mode == "max") == maximize
    return value if same else -value


def may_prune(epoch: int, min_epochs: int, final_epoch: int) -> bool:
    """Whether the pruner is asked after this epoch: not before ``min_epochs`` (warm-up), and
    not after the last epoch (a finished run is a complete trial, whatever its rank)."""
    return min_epochs <= epoch < final_epoch


def trials_to_start(n_trials: int, counted: int, waiting: int) -> bool:
    """Whether a worker should start another trial: the study has fewer than ``n_trials``
    counted trials (finished, running or queued), or a queued retry waits for a worker."""
    return counted < n_trials or waiting > 0


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var)


def lucky_draw(trial_value: float, seed_values: Sequence[float], maximize: bool) -> bool:
    """The best trial looks lucky when its value is better than every retrained seed's."""
    if not seed_values:
        return False
    return trial_value > max(seed_values) if maximize else trial_value < min(seed_values)
