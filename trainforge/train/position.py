"""Where the loop is: the part of a checkpoint that says which batch comes next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainforge.train.counters import EpochTotals
from trainforge.train.result import StopReason


@dataclass
class LoopPosition:
    """The epoch in progress (0-based), the batches of it consumed, the optimizer steps done,
    the running totals of the epoch, and why the loop stopped (once it has).

    ``batch_in_epoch`` counts this world size's (sharded) batches, so the world size is kept
    with it. Saves happen only at optimizer-step boundaries: the accumulation position in a
    checkpoint (``micro_step``) is always 0.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    totals: EpochTotals = field(default_factory=EpochTotals)
    consecutive_skips: int = 0
    stop_reason: StopReason | None = None
    world_size: int = 1
    # the world size of the checkpoint last loaded (``batch_in_epoch`` was counted in it)
    saved_world_size: int = 1

    @property
    def epoch_label(self) -> int:
        """The 1-based epoch a record belongs to: the one in progress, or the one just ended."""
        return self.epoch if self.batch_in_epoch == 0 else self.epoch + 1

    def next_epoch(self) -> None:
        self.epoch += 1
        self.batch_in_epoch = 0
        self.totals = EpochTotals()

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "micro_step": 0,
            "totals": self.totals.as_dict(),
            "consecutive_skips": self.consecutive_skips,
            "stop_reason": self.stop_reason.value if self.stop_reason is not None else None,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; the world size stays this run's (a resume may change it)."""
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.global_step = int(state["global_step"])
        self.totals = EpochTotals(**state["totals"])
        self.consecutive_skips = int(state.get("consecutive_skips", 0))
        self.saved_world_size = int(state.get("world_size", 1))
        # A checkpoint is written while the loop runs, or by a signal stop that a resume
        # continues: the loop that loads it has not stopped.
        self.stop_reason = None


def rescale_batch(
    batch_in_epoch: int,
    saved_world: int,
    world: int,
    batch_size: int,
    total_samples: int,
    n_batches: int,
) -> tuple[int, int]:
    """Where a checkpoint saved in ``saved_world`` processes resumes in ``world`` processes:
    (this world's batch index, samples of the epoch already consumed).

    Ranks are dealt an epoch's order round-robin, so the first ``k`` batches of every rank
    are together the first ``k * batch_size * saved_world`` samples of the order. The resume
    starts at the last boundary of this world size at or before that count: no sample is
    skipped, a few may be seen twice. ``n_batches`` is this world's batches per epoch.
    """
    if saved_world == world:
        return batch_in_epoch, min(batch_in_epoch * batch_size * world, total_samples)
    consumed = min(batch_in_epoch * batch_size * saved_world, total_samples)
    if consumed >= total_samples:
        return n_batches, total_samples
    return min(consumed // (batch_size * world), n_batches), consumed


__all__ = ["LoopPosition", "rescale_batch"]
