"""training.nan_policy: what a non-finite step turns into (skip, stop, or roll back to the
last checkpoint with a lower learning rate), and when to give up."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainingConfig
from trainforge.health.rules import FIX_NONFINITE
from trainforge.train.counters import Rollback
from trainforge.train.distributed import DistContext
from trainforge.train.ports import RunLog
from trainforge.train.position import LoopPosition
from trainforge.train.result import TrainingDiverged


class NanPolicy:
    """Counts rollbacks since the last checkpoint: data that is itself non-finite diverges at
    any learning rate, so the run gives up instead of rolling back forever."""

    def __init__(
        self, training: TrainingConfig, log: RunLog, dist: DistContext, device: torch.device
    ) -> None:
        self.policy = training.nan_policy
        self.max_consecutive = training.max_consecutive_skips
        self.log = log
        self.dist = dist
        self.device = device
        self.rollbacks = 0

    def saved(self) -> None:
        """A new checkpoint is progress past the last divergence."""
        self.rollbacks = 0

    def on_nonfinite(self, loss: float, grad_norm: float, pos: LoopPosition) -> None:
        """Alert, then skip the step (return), or raise ``Rollback`` or ``TrainingDiverged``.
        The caller has dropped the step's gradients."""
        what = f"non-finite {'loss' if not math.isfinite(loss) else 'gradient norm'} at step {pos.global_step + 1}"
        self.log.alert(
            "nonfinite",
            f"{what} (loss={loss}, grad_norm={grad_norm}); nan_policy: {self.policy}",
            level="error" if self.policy == "stop" else "warning",
            step=pos.global_step,
            epoch=pos.epoch + 1,
            evidence={"loss": str(loss), "grad_norm": str(grad_norm)},
            fix=FIX_NONFINITE,
        )
        if self.policy == "skip":
            pos.consecutive_skips += 1
            if pos.consecutive_skips > self.max_consecutive:
                raise TrainingDiverged(
                    f"{pos.consecutive_skips} non-finite steps in a row (max_consecutive_skips="
                    f"{self.max_consecutive}); lower training.learning_rate or "
                    "enable training.gradient_clip"
                )
            return
        if self.policy == "rollback":
            raise Rollback()
        raise TrainingDiverged(
            f"training diverged: {what}; the last good checkpoint is intact. Lower "
            "training.learning_rate, set training.gradient_clip, or use training.nan_policy: skip"
        )

    def restore_point(self, source: Path | None) -> tuple[dict[str, Any], Path]:
        """The state of the last checkpoint to roll back to, read once per rollback."""
        state: dict[str, Any] | None = None
        if self.dist.enabled:
            # every rank diverged at this step (see the trainer's optimizer_step): rank 0
            # reads its file and hands the state to all, so no rank needs to see its disk
            if self.dist.is_main and source is not None and source.exists():
                state = load_checkpoint(source, map_location="cpu")
            state, source = self.dist.broadcast((state, source))
        elif source is not None and source.exists():
            state = load_checkpoint(source, map_location=self.device)
        if state is None or source is None:
            raise TrainingDiverged(
                "training diverged before any checkpoint was written, so nan_policy: rollback has "
                "nothing to return to; lower training.learning_rate"
            )
        self.rollbacks += 1
        if self.rollbacks > self.max_consecutive:
            raise TrainingDiverged(
                f"{self.rollbacks} rollbacks in a row without reaching a new checkpoint "
                f"(max_consecutive_skips={self.max_consecutive}); check the data for NaN/inf "
                "values or lower training.learning_rate"
            )
        return state, source
