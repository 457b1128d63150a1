"""The run folder of DESIGN.md: created, guarded by a lock, and described by metadata.json.

Layout: ``config.yaml``, ``metadata.json``, ``requirements.txt``, ``checkpoints/``, ``logs/``
and ``.lock``. The lock (``_fileio.file_lock``) is held for the run's life: the kernel drops it when
the holder dies, even by SIGKILL, so a stale lock file never blocks a later run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from trainforge._fileio import LockBusy, atomic_write_text, file_lock
from trainforge.errors import RunFolderError
from trainforge.train.system import installed_distributions

CONFIG_FILE = "config.yaml"
METADATA_FILE = "metadata.json"
REQUIREMENTS_FILE = "requirements.txt"
LOCK_FILE = ".lock"

# What trainforge (or a tracker it runs) writes at the top of a run folder. --overwrite only
# deletes folders made of these, so a mistyped --output cannot wipe someone's data.
_OWN_NAMES = frozenset(
    {
        CONFIG_FILE,
        METADATA_FILE,
        REQUIREMENTS_FILE,
        LOCK_FILE,
        "checkpoints",
        "logs",
        "wandb",
        "mlruns",
    }
)


def _json_safe(value: Any) -> Any:
    """NaN/inf become null (strict JSON); paths and other objects become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class RunFolder:
    """Owns a run folder for the life of a run (use as a context manager or call release)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        checkpoint_dir: str = "checkpoints",
        log_dir: str = "logs",
        *,
        overwrite: bool = False,
        resume: bool = False,
    ) -> None:
        if overwrite and resume:
            raise RunFolderError("--overwrite and --resume contradict each other; pass only one")
        self.root = Path(root).expanduser().absolute()
        # Absolute settings stay absolute: joining an absolute path replaces the root.
        self.checkpoint_dir = self.root / checkpoint_dir
        self.log_dir = self.root / log_dir
        self._lock: FileLock | None = None
        self._metadata: dict[str, Any] = {}

        if self.root.exists() and not self.root.is_dir():
            raise RunFolderError(
                f"run folder {self.root} exists and is not a folder; choose another --output"
            )
        created_root = not self.root.exists()
        created_lock = not (self.root / LOCK_FILE).exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
        except OSError as exc:
            raise RunFolderError(
                f"cannot create run folder {self.root}: {exc.strerror or exc}"
            ) from None
        try:
            self._prepare(overwrite=overwrite, resume=resume)
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except BaseException:
            self.release()
            # Leave a folder we refused exactly as we found it.
            if created_lock:
                (self.root / LOCK_FILE).unlink(missing_ok=True)
            if created_root:
                shutil.rmtree(self.root, ignore_errors=True)
            raise

    # ---------------------------------------------------------------- lock
    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    def _acquire_lock(self) -> None:
        lock = file_lock(self.lock_path, blocking=False)
        try:
            lock.acquire()
        except LockBusy:
            holder = _describe_holder(_read_quietly(self.lock_path))
            raise RunFolderError(
                f"run folder {self.root} is in use by {holder} (lock {self.lock_path}); "
                "wait for that run to finish or stop it, or choose another --output"
            ) from None
        try:
            self.lock_path.write_text(
                json.dumps(
                    {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
                ),
                encoding="utf-8",
            )
        except BaseException:
            lock.release()
            raise
        self._lock = lock

    def release(self) -> None:
        """Give up the lock (idempotent). The .lock file stays (see ``file_lock``)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    @property
    def locked(self) -> bool:
        return self._lock is not None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ---------------------------------------------------------------- existing contents
    def _prepare(self, *, overwrite: bool, resume: bool) -> None:
        entries = sorted(p for p in self.root.iterdir() if p.name != LOCK_FILE)
        is_run = self.metadata_path.exists() or _has_files(self.checkpoint_dir)
        if resume:
            if self.metadata_path.exists():
                self._metadata = self._read_metadata()
            return
        if not entries:
            return
        foreign = [p.name for p in entries if not self._is_own(p)]
        if overwrite:
            if foreign and not self.metadata_path.exists():
                raise RunFolderError(
                    f"--overwrite refused: {self.root} does not look like a trainforge run folder "
                    f"(it holds {_listing(foreign)}); delete it yourself or choose another --output"
                )
            for p in entries:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            return
        if is_run:
            raise RunFolderError(
                f"run folder {self.root} already exists; pass --overwrite to replace it "
                f"or --resume {self.root} to continue it"
            )
        if foreign:
            raise RunFolderError(
                f"{self.root} is not empty and is not a trainforge run folder (it holds "
                f"{_listing(foreign)}); choose a new or empty folder for --output"
            )
        # Only leftovers of a run that died before writing anything: reuse them.

    def _is_own(self, p: Path) -> bool:
        top = {self._top_name(self.checkpoint_dir), self._top_name(self.log_dir)}
        return p.name in _OWN_NAMES or p.name in top or p.name.startswith(f".{METADATA_FILE}.")

    def _top_name(self, sub: Path) -> str | None:
        try:
            return sub.relative_to(self.root).parts[0]
        except (ValueError, IndexError):
            return None

    # ---------------------------------------------------------------- files
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA_FILE

    @property
    def requirements_path(self) -> Path:
        return self.root / REQUIREMENTS_FILE

    def write_config(self, text: str) -> Path:
        atomic_write_text(self.config_path, text)
        return self.config_path

    def write_requirements(self) -> Path:
        """requirements.txt: every installed distribution as ``name==version``, sorted."""
        atomic_write_text(
            self.requirements_path, "".join(f"{line}\n" for line in installed_packages())
        )
        return self.requirements_path

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of metadata.json's contents as last written by this process."""
        return json.loads(json.dumps(self._metadata))

    def update_metadata(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into metadata.json and rewrite it atomically; returns the result."""
        self._metadata.update(_json_safe(fields))
        atomic_write_text(
            self.metadata_path, json.dumps(self._metadata, indent=2, allow_nan=False) + "\n"
        )
        return self.metadata

    def _read_metadata(self) -> dict[str, Any]:
        try:
            data = json.loads(self.metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunFolderError(
                f"{self.metadata_path} cannot be read ({exc}); the run folder is damaged"
            ) from None
        if not isinstance(data, dict):
            raise RunFolderError(
                f"{self.metadata_path} does not hold a JSON object; the run folder is damaged"
            )
        return data


def installed_packages() -> list[str]:
    """``name==version`` of each installed distribution, sorted by name, one per name."""
    return [f"{name}=={version}" for name, version in installed_distributions()]


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


def _read_quietly(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
