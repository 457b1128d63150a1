"""The three hook points of a run: after an optimizer step, a validation, a checkpoint save.

Deliberately few: a hook sees a read-only snapshot of the run and may ask it to stop after a
validation (the tuner's pruning uses that), nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RunState:
    """A snapshot handed to hooks."""

    epoch: int  # 1-based epoch in progress (or just finished)
    global_step: int  # optimizer steps done
    metrics: dict[str, float] = field(default_factory=dict)
    run_dir: Path | None = None


class Hook:
    """Subclass and override what you need; every method is optional."""

    def on_step(self, state: RunState) -> None:
        """After each optimizer step; ``state.metrics`` holds ``loss`` and ``lr``."""

    def on_validation(self, state: RunState) -> bool | None:
        """After each validation; return True to stop the run (its stop reason is ``"hook"``)."""
        return None

    def on_checkpoint(self, path: Path, state: RunState) -> None:
        """After each checkpoint file is written."""
