"""Learning-rate schedules as pure functions of the optimizer step, plus plateau state.

The LR is recomputed from the global step at every step (nanoGPT's ``get_lr``), so resuming
needs only the step counter; the plateau schedule adds a small state of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainforge.config import SchedulerConfig, is_better


def scheduled_lr(
    step: int,
    *,
    base_lr: float,
    kind: str,
    steps_per_epoch: int,
    total_steps: int,
    warmup_steps: int,
    min_lr: float = 0.0,
    step_size: int = 30,
    gamma: float = 0.1,
) -> float:
    """The LR of optimizer step ``step`` (0-based), before any plateau reduction."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if kind == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if kind == "step":
        epoch = step // max(1, steps_per_epoch)
        return base_lr * gamma ** (epoch // step_size)
    return base_lr


def plateau_update(
    value: float, best: float | None, wait: int, *, mode: str, patience: int, min_delta: float = 0.0
) -> tuple[float | None, int, bool]:
    """One validation of a reduce-on-plateau rule: (new best, new wait, reduce now?)."""
    if is_better(value, best, mode, min_delta):  # type: ignore[arg-type]
        return value, 0, False
    wait += 1
    if wait > patience:
        return best, 0, True
    return best, wait, False


@dataclass
class LRSchedule:
    """The run's LR policy: the pure schedule times a factor lowered by plateaus and rollbacks."""

    cfg: SchedulerConfig
    base_lr: float
    steps_per_epoch: int
    total_steps: int
    factor: float = 1.0
    plateau_best: float | None = None
    plateau_wait: int = 0

    @property
    def warmup_steps(self) -> int:
        return round(self.cfg.warmup_epochs * self.steps_per_epoch)

    def lr_at(self, step: int) -> float:
        lr = scheduled_lr(
            step,
            base_lr=self.base_lr,
            kind=self.cfg.type,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            min_lr=self.cfg.min_lr,
            step_size=self.cfg.step_size,
            gamma=self.cfg.gamma,
        )
        if self.factor == 1.0:
            return lr
        return max(lr * self.factor, min(self.cfg.min_lr, lr))

    def on_validation(self, metrics: dict[str, float]) -> bool:
        """Feed a validation to the plateau rule; True when the LR was reduced."""
        if self.cfg.type != "plateau" or self.cfg.monitor not in metrics:
            return False
        self.plateau_best, self.plateau_wait, reduce = plateau_update(
            metrics[self.cfg.monitor],
            self.plateau_best,
            self.plateau_wait,
            mode=self.cfg.mode or "min",
            patience=self.cfg.patience,
        )
        if reduce:
            self.factor *= self.cfg.factor
        return reduce

    def scale(self, factor: float) -> None:
        """Lower every future LR (nan_policy: rollback)."""
        self.factor *= factor

    def state_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "plateau_best": self.plateau_best,
            "plateau_wait": self.plateau_wait,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.factor = float(state["factor"])
        self.plateau_best = state["plateau_best"]
        self.plateau_wait = int(state["plateau_wait"])
