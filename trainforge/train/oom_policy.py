"""training.oom_policy inside the loop: the one place an out-of-memory error is caught.

``fail`` turns the error into one line with the fix. ``shrink`` halves the micro-batch (see
``train.oom`` for the arithmetic), drops the accumulation window's partial gradients and sums,
and redoes the window's batches so far: the optimizer step that failed is redone whole, on
the same samples, with the same weights. The micro-batch is a stateful part of the
checkpoint, so a resumed run keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from trainforge.train.distributed import DistContext
from trainforge.train.oom import (
    FIX_OOM,
    MicroBatch,
    OutOfMemory,
    effective_accumulation,
    is_out_of_memory,
)
from trainforge.train.ports import RunLog

Batch = tuple[torch.Tensor, torch.Tensor]


class OomPolicy:
    def __init__(
        self,
        policy: str,
        batch_size: int,
        accumulation: int,
        device: torch.device,
        log: RunLog,
        dist: DistContext,
        update_metadata: Callable[..., Any] | None,
    ) -> None:
        self.policy = policy
        self.batch_size = batch_size
        self.accumulation = accumulation
        self.device = device
        self.log = log
        self.dist = dist
        self.update_metadata = update_metadata
        self.micro_batch = MicroBatch()  # shrink cuts the loader's batches into these

    def train_newest(
        self,
        held: Sequence[Batch],
        train_batch: Callable[[torch.Tensor, torch.Tensor], None],
        discard_window: Callable[[], None],
        *,
        step: int,
        epoch: int,
    ) -> None:
        """``train_batch`` the newest of the window's batches ``held``; after a shrink, drop
        the window (``discard_window``) and train all of them again."""
        todo = held[-1:]
        while True:
            try:
                for x, y in todo:
                    train_batch(x, y)
                return
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # outside the except block: the error's frames (and their tensors) are released,
            # and the window's partial gradients go before the cache is emptied
            discard_window()
            self._on_out_of_memory(message, step, epoch)
            todo = held

    def _on_out_of_memory(self, message: str, step: int, epoch: int) -> None:
        """fail: one line with the fix; shrink: halve the micro-batch and say so."""
        where = f"out of memory at step {step + 1} ({message})"
        if self.policy == "fail":
            raise OutOfMemory(f"{where}; {FIX_OOM}")
        if self.dist.enabled:  # one rank redoing a step alone would leave the others waiting
            raise OutOfMemory(
                f"{where}; training.oom_policy: shrink works in one process only: lower "
                "data.batch_size and raise training.gradient_accumulation_steps"
            )
        before = self.micro_batch.size or self.batch_size
        after = self.micro_batch.shrink(self.batch_size)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        accumulation = self.record()["gradient_accumulation_steps"]
        self.log.alert(
            "oom_shrink",
            f"{where}; micro-batch {before} -> {after}, gradient accumulation "
            f"{accumulation} (same samples per optimizer step)",
            step=step,
            epoch=epoch,
            evidence={"error": message, "micro_batch": before},
            fix=f"start the next run with data.batch_size: {after} and "
            f"training.gradient_accumulation_steps: {accumulation}",
        )
        if self.update_metadata is not None:
            self.update_metadata(memory=self.record())

    def record(self) -> dict[str, int]:
        """The micro-batch and accumulation the run trains with now (metadata.json)."""
        size = self.micro_batch.size or self.batch_size
        return {
            "micro_batch_size": size,
            "gradient_accumulation_steps": effective_accumulation(
                self.batch_size, self.accumulation, size
            ),
            "oom_shrinks": self.micro_batch.shrinks,
        }

    def restore(self, saved_state: dict[str, Any]) -> None:
        """A checkpoint's micro-batch, unless this run has shrunk further since (a rollback
        keeps a later shrink); a checkpoint from before oom_policy has none: the loader's
        batch, uncut."""
        saved = MicroBatch()
        saved.load_state_dict(saved_state)
        if saved.shrinks > self.micro_batch.shrinks:
            self.micro_batch.load_state_dict(saved.state_dict())
        if self.micro_batch.shrinks and self.update_metadata is not None:
            self.update_metadata(memory=self.record())
