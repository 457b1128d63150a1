"""When the loop saves, which files a save writes, and writing them.

The decisions (:func:`earned_files`, :func:`epoch_end_files`, :meth:`CheckpointSaver.step_save_due`)
only name files; :meth:`CheckpointSaver.save` writes one state to all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainforge.config import CheckpointingConfig
from trainforge.errors import CheckpointError
from trainforge.train import checkpointing
from trainforge.train.checkpoint_files import write_checkpoint
from trainforge.train.counters import LatestMetrics
from trainforge.train.hooks import Hook, RunState
from trainforge.train.ports import RunLog
from trainforge.train.position import LoopPosition
from trainforge.train.trackers import Trackers

# Checkpoint files a validation earned, and those it displaced from the top k.
Saves = tuple[list[str], list[str]]


def earned_files(
    trackers: Trackers,
    ck: CheckpointingConfig,
    metrics: dict[str, float],
    pos: LoopPosition,
    *,
    mid_epoch_names: bool,
) -> Saves:
    """Offer a validation to the best and top-k trackers: the files it earned, and the top-k
    files it displaced. ``mid_epoch_names``: top-k names carry the step too."""
    monitors = ck.monitors
    names = []
    for name in trackers.best.improved(metrics, pos.global_step):
        if ck.save_best:
            names.append(checkpointing.best_name(name, first=name == monitors[0]))
    first = monitors[0]
    to_delete: list[str] = []
    if ck.keep_top_k and first in metrics:
        name = checkpointing.top_k_name(
            pos.epoch_label, pos.global_step, first, metrics[first], mid_epoch=mid_epoch_names
        )
        keep, to_delete = trackers.top_k.offer(name, metrics[first])
        if keep:
            names.append(name)
    return names, to_delete


def epoch_end_files(ck: CheckpointingConfig, epoch: int) -> list[str]:
    """The files every end of ``epoch`` (1-based) writes, besides those a validation earned;
    last.pth comes last, so it stays the newest file and --resume auto prefers it."""
    names = []
    if ck.save_every_n_epochs and epoch % ck.save_every_n_epochs == 0:
        names.append(f"epoch_{epoch:03d}.pth")
    if ck.save_last:
        names.append("last.pth")
    return names


class CheckpointSaver:
    """Writes the run's checkpoint files (rank 0 only in a data-parallel run) and tells the
    log and the hooks. ``last_saved`` is the file a ``nan_policy: rollback`` returns to."""

    def __init__(
        self,
        folder: Path,
        log: RunLog,
        pos: LoopPosition,
        metrics: LatestMetrics,
        hooks: Sequence[Hook],
        *,
        run_dir: Path | None,
        is_main: bool,
    ) -> None:
        self.folder = folder
        self.log = log
        self.pos = pos
        self.metrics = metrics
        self.hooks = hooks  # the trainer's list: a profiler attached later is in it
        self.run_dir = run_dir
        self.is_main = is_main
        self.last_saved: Path | None = None
        self.last_save_time = time.monotonic()

    def step_save_due(self, ck: CheckpointingConfig) -> bool:
        """checkpointing.save_every_n_steps / save_every_n_minutes, after an optimizer step."""
        if ck.save_every_n_steps and self.pos.global_step % ck.save_every_n_steps == 0:
            return True
        if ck.save_every_n_minutes:
            return time.monotonic() - self.last_save_time >= ck.save_every_n_minutes * 60
        return False

    def save(self, names: list[str], state_dict: Callable[[], dict[str, Any]]) -> None:
        """Write the state ``state_dict()`` returns to every file of ``names``: serialised
        and checksummed once, the other files atomic copies of the first."""
        if not self.is_main:
            self.last_save_time = time.monotonic()
            return
        # The events go to the log before the state is taken, so the log positions stored in
        # the checkpoint include them: a run resumed from it keeps the record of its save.
        for name in names:
            self.log.log(self._event("checkpoint", self.folder / name))
        state = state_dict()
        written: Path | None = None
        for name in names:
            target = self.folder / name
            try:
                written = write_checkpoint(state, target, copy_of=written)
            except CheckpointError:
                self.log.log(self._event("checkpoint_failed", target))
                raise
            self.last_saved = written
            pos = self.pos
            snapshot = RunState(pos.epoch_label, pos.global_step, dict(self.metrics), self.run_dir)
            for hook in self.hooks:
                hook.on_checkpoint(written, snapshot)
        self.last_save_time = time.monotonic()

    def delete(self, names: list[str]) -> None:
        """Files displaced from the top k."""
        if self.is_main:
            for name in names:
                (self.folder / name).unlink(missing_ok=True)

    def _event(self, event: str, path: Path) -> dict[str, Any]:
        return {
            "type": "event",
            "event": event,
            "step": self.pos.global_step,
            "epoch": self.pos.epoch_label,
            "path": str(path),
        }
