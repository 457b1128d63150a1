"""Which way is better for each metric: the registry every tool consults.

A metric name may carry a split prefix (``val_``, ``train_``, ``test_``); the direction comes
from the rest of the name. Names we do not know need an explicit ``mode`` from the user.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["min", "max"]

_DIRECTIONS: dict[str, Mode] = {
    "loss": "min",
    "error": "min",
    "mse": "min",
    "mae": "min",
    "rmse": "min",
    "accuracy": "max",
    "acc": "max",
    "top5_accuracy": "max",
    "f1": "max",
    "precision": "max",
    "recall": "max",
    "auroc": "max",
    "r2": "max",
}

SPLIT_PREFIXES = ("val_", "train_", "test_")


def base_name(metric: str) -> str:
    """``val_accuracy`` -> ``accuracy``."""
    for prefix in SPLIT_PREFIXES:
        if metric.startswith(prefix):
            return metric[len(prefix) :]
    return metric


def metric_direction(metric: str) -> Mode | None:
    """The direction of a known metric, or None when the registry does not know it."""
    return _DIRECTIONS.get(base_name(metric))


def is_better(value: float, best: float | None, mode: Mode, min_delta: float = 0.0) -> bool:
    """Whether ``value`` improves on ``best`` by more than ``min_delta``."""
    if best is None:
        return True
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta
