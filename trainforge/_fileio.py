"""File helpers shared by every layer: crash-safe writes and inter-process locks.

A crash-safe write leaves readers the old file or the new one, whole, never a mix. A lock is
an OS advisory lock (``filelock``: ``flock`` on POSIX, ``LockFileEx`` on Windows) that the
kernel drops when its holder dies, even by SIGKILL, so a stale lock file never blocks anyone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

LockBusy = Timeout
"""Raised by ``FileLock.acquire()`` on a non-blocking lock that another process holds."""


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable across a power loss.

    Some file systems refuse to open or fsync a folder; the file is complete and in place by
    then, so that is not worth failing over.
    """
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def temp_path(path: Path) -> Path:
    """Where ``path`` is built before it is renamed into place.

    A leading dot and a ``.tmp-<pid>`` suffix: a file left by a crash is plainly not the real
    one, is skipped by listings that glob ``*.pth``, and tells which process left it. Unique per
    process, not per thread: one writer per path at a time.
    """
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def is_temp_path(path: Path) -> bool:
    """A file named by ``temp_path`` (left behind when its writer was killed)."""
    return path.name.startswith(".") and ".tmp-" in path.name


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(temp)`` fills a temp file in the same folder; it is fsynced, then renamed.

    On any failure (KeyboardInterrupt included) the temp file is removed and the error
    re-raised; the file at ``path``, if any, is untouched.
    """
    path = Path(path)
    temp = temp_path(path)
    try:
        write(temp)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def file_lock(path: Path, *, blocking: bool = True) -> FileLock:
    """An exclusive inter-process lock on ``path`` (created if missing, never deleted).

    Use it as a context manager, or ``acquire()`` / ``release()`` to hold it across calls;
    a non-blocking ``acquire()`` raises ``LockBusy`` when another process holds it. The file
    stays on release: deleting a file others may be waiting on would let two processes lock
    two different files of the same name. Each call gives a new lock object, so two in one
    process exclude each other as two processes do.
    """
    return FileLock(
        path, blocking=blocking, thread_local=False, is_singleton=False, preserve_lock_file=True
    )
