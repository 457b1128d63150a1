"""What a run folder's files are: the record ``--overwrite`` uses to delete only trainforge's.

trainforge knows every name it writes (the run's own files, checkpoints by role, logs, the
trackers it starts); anything else in the folder is the user's and is kept. The decision is
a pure function of relative paths, so it is tested without touching a disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

TOP_FILES = frozenset({"config.yaml", "metadata.json", "requirements.txt", ".lock", "mlflow.db"})
# Folders that trackers trainforge starts fill with files of their own choosing.
TRACKER_FOLDERS = frozenset({"wandb", "mlruns", "mlartifacts"})
LOG_FILES = frozenset({"metrics.json", "train.log", "alerts.jsonl"})
LOG_FOLDERS = frozenset({"tensorboard"})

# best.pth, best_<metric>.pth, last.pth, epoch_007.pth, epoch_012-val_accuracy=0.9821.pth
_CHECKPOINT = re.compile(r"(best|last|best_[^/]+|epoch_\d+(-[^/]+)?)\.pth")
# An atomic write's temporary file: .<name>.tmp-<pid>
_TEMP = re.compile(r"\.[^/]+\.tmp-\d+")


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is one the trainer gives a checkpoint (best, last, epoch files)."""
    return _CHECKPOINT.fullmatch(name) is not None


def is_own(relative: PurePosixPath, checkpoint_dir: str, log_dir: str) -> bool:
    """Whether trainforge wrote the file at ``relative`` (a path inside the run folder)."""
    parts = relative.parts
    if not parts:
        return False
    if parts[0] in TRACKER_FOLDERS:
        return True
    parent, name = PurePosixPath(*parts[:-1]), parts[-1]
    if _TEMP.fullmatch(name):
        return parent in (PurePosixPath("."), PurePosixPath(checkpoint_dir), PurePosixPath(log_dir))
    if len(parts) == 1:
        return name in TOP_FILES
    if parent == PurePosixPath(checkpoint_dir):
        return is_checkpoint_name(name)
    logs = PurePosixPath(log_dir)
    if parent == logs:
        return name in LOG_FILES
    inside = relative.relative_to(logs).parts if _is_under(relative, logs) else ()
    return len(inside) >= 2 and inside[0] in LOG_FOLDERS


def _is_under(path: PurePosixPath, folder: PurePosixPath) -> bool:
    return path.parts[: len(folder.parts)] == folder.parts


def plan_overwrite(
    files: Iterable[PurePosixPath], checkpoint_dir: str, log_dir: str
) -> tuple[list[PurePosixPath], list[PurePosixPath]]:
    """``(delete, keep)``: trainforge's own files, and everything else."""
    delete: list[PurePosixPath] = []
    keep: list[PurePosixPath] = []
    for path in sorted(files):
        (delete if is_own(path, checkpoint_dir, log_dir) else keep).append(path)
    return delete, keep


def list_files(root: Path) -> list[PurePosixPath]:
    """Every file (and symlink) under ``root``, relative to it; links are not followed."""
    found = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        links = [d for d in dirs if (here / d).is_symlink()]
        for name in [*names, *links]:
            found.append(PurePosixPath((here / name).relative_to(root).as_posix()))
    return found


def overwrite(root: Path, checkpoint_dir: str, log_dir: str) -> list[PurePosixPath]:
    """Delete trainforge's files under ``root`` and the folders they leave empty; returns
    what was kept (the user's files)."""
    delete, keep = plan_overwrite(list_files(root), checkpoint_dir, log_dir)
    for path in delete:
        if path.name != ".lock":  # held by this process: the lock must survive the reset
            (root / path).unlink(missing_ok=True)
    for folder, _dirs, _names in sorted(os.walk(root), key=lambda w: -len(w[0])):
        here = Path(folder)
        if here != root and not any(here.iterdir()) and not here.is_symlink():
            here.rmdir()
    return keep
