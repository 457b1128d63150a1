"""Crash-safe file writes shared by every tool: readers see the old file or the new one, whole."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


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


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(temp)`` fills a temp file in the same folder; it is fsynced, then renamed."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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


def describe_missing(path: Path) -> str:
    """'PATH does not exist', or why a path that is there cannot be followed."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return f"{path} is a symbolic link that loops back on itself"
        except OSError:
            return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        return f"{path} is a folder, not a file"
    return f"{path} does not exist" if not path.exists() else f"{path} is not a regular file"
