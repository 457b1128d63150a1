"""A per-epoch progress bar on a terminal (loss, throughput, ETA); nothing otherwise.

Off a terminal the step records in the text log are the progress lines.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def bar_enabled(setting: bool | str, *, is_main: bool = True) -> bool:
    """Whether a run shows the bar: ``logging.progress_bar`` (``auto``: only on a terminal);
    never on the other ranks of a data-parallel run."""
    if not is_main:
        return False
    if setting == "auto":
        return sys.stderr.isatty()
    return setting in (True, "on")


class EpochProgress:
    """One epoch's bar; ``enabled`` comes from ``bar_enabled`` (each run decides its own)."""

    def __init__(self, epoch: int, epochs: int, total: int, *, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        if not enabled or total <= 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("train", total=total, info="")
        self._bar.start()

    def advance_to(self, completed: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=completed)

    def update(self, completed: int, loss: float) -> None:
        if self._bar is None:
            return
        self._bar.update(self._task, completed=completed, info=f"loss {loss:.4f}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
