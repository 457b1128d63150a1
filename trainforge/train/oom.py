"""training.oom_policy: what an out-of-memory error mid-run turns into (pure decisions).

``shrink`` splits every batch the loader yields into micro-batches of half the size it last
used, so one optimizer step still sums the gradients of the same samples, each micro-batch's
mean loss weighted by its share of the window: the optimisation is the one of a run configured
with the smaller ``data.batch_size`` and the larger ``gradient_accumulation_steps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainforge.errors import TrainforgeError

FIX_OOM = (
    "lower data.batch_size (raising training.gradient_accumulation_steps keeps the effective "
    "batch), enable training.mixed_precision, or set training.oom_policy: shrink"
)


class OutOfMemory(TrainforgeError):
    """Out of memory with nothing left to shrink (or oom_policy: fail)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA, MPS, XPU), whatever the device."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom_type)


def shrunk(micro_batch: int) -> int:
    """The micro-batch after one shrink: half, rounded up; an error below one sample."""
    if micro_batch <= 1:
        raise OutOfMemory(
            "out of memory with a micro-batch of 1 sample: training.oom_policy: shrink cannot "
            "go lower; use a smaller model, training.mixed_precision, or a larger device"
        )
    return math.ceil(micro_batch / 2)


def split_sizes(batch: int, micro_batch: int) -> list[int]:
    """The micro-batch sizes one loader batch of ``batch`` samples is cut into."""
    full, rest = divmod(batch, micro_batch)
    return [micro_batch] * full + ([rest] if rest else [])


def effective_accumulation(batch_size: int, accumulation: int, micro_batch: int) -> int:
    """Micro-batches per optimizer step once loader batches are cut into ``micro_batch``."""
    return accumulation * math.ceil(batch_size / micro_batch)


@dataclass
class MicroBatch:
    """The micro-batch size the run uses now (``None``: the loader's batch, uncut), with how
    many shrinks got it there. A stateful part of the checkpoint, so a resume keeps it."""

    size: int | None = None
    shrinks: int = 0

    def shrink(self, batch_size: int) -> int:
        self.size = shrunk(self.size or batch_size)
        self.shrinks += 1
        return self.size

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "shrinks": self.shrinks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = state.get("size")
        self.size = int(size) if size is not None else None
        self.shrinks = int(state.get("shrinks", 0))


__all__ = [
    "FIX_OOM",
    "MicroBatch",
    "OutOfMemory",
    "effective_accumulation",
    "is_out_of_memory",
    "shrunk",
    "split_sizes",
]
