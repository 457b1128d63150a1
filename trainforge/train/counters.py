"""The small records the loop keeps while it runs: limits, epoch totals, throughput windows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


class Rollback(Exception):
    """Raised inside a step to return to the last good checkpoint (nan_policy: rollback)."""


@dataclass
class Limits:
    """Caps used by --fast_dev_run and tests."""

    train_batches: int | None = None
    val_batches: int | None = None


@dataclass
class EpochTotals:
    """Running sums of the epoch in progress (kept in checkpoints for mid-epoch resume)."""

    loss_sum: float = 0.0
    correct: float = 0.0
    samples: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss_sum": self.loss_sum,
            "correct": self.correct,
            "samples": self.samples,
            "seconds": self.seconds,
        }


@dataclass
class Window:
    """Throughput bookkeeping between two step records."""

    start: float = field(default_factory=time.perf_counter)
    samples: int = 0
    data_wait: float = 0.0

    def step_record(self, step: int, epoch: int, last: dict[str, float]) -> dict[str, Any]:
        """The ``step`` record of the optimizer step that closes this window: the step's
        loss, lr and grad_norm, with the window's throughput and share of data waits."""
        elapsed = max(1e-9, time.perf_counter() - self.start)
        return {
            "type": "step",
            "step": step,
            "epoch": epoch,
            **last,
            "samples_per_sec": self.samples / elapsed,
            "data_wait": min(1.0, self.data_wait / elapsed),
        }

    def restart(self) -> None:
        """Begin the next window (after a step record is written)."""
        self.start = time.perf_counter()
        self.samples = 0
        self.data_wait = 0.0


class LatestMetrics(dict[str, float]):
    """The latest value of every train and validation metric (``"metrics"`` in a checkpoint)."""

    def state_dict(self) -> dict[str, float]:
        return dict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clear()
        self.update({str(k): float(v) for k, v in state.items()})
