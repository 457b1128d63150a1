"""``registry.json`` on disk: read it, and change it under an exclusive lock, atomically.

Two registrations at once must never lose an entry: each holds a file lock on a
separate ``.registry.lock`` file (not on registry.json itself, which is replaced by rename
and so is a different file after every write) for its whole read-modify-write, and readers
never see a half-written index because it is written to a temporary file and renamed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainforge._fileio import atomic_write_text, file_lock
from trainforge.errors import CheckpointError

INDEX = "registry.json"
LOCK = ".registry.lock"
SCHEMA_VERSION = 1
DEFAULT_REGISTRY = "models"  # as trainforge.models resolves registry:NAME@VERSION


def registry_root(flag: str | os.PathLike[str] | None = None) -> Path:
    """--registry, else $TRAINFORGE_REGISTRY, else models/ (the same lookup as
    ``model.pretrained: registry:NAME@VERSION``)."""
    if flag:
        return Path(flag)
    return Path(os.environ.get("TRAINFORGE_REGISTRY") or DEFAULT_REGISTRY)


def empty_index() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "models": {}}


def read_index(root: Path) -> dict[str, Any]:
    path = root / INDEX
    if not path.exists():
        return empty_index()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot read the registry index {path} ({exc}); restore it from a backup or "
            "rebuild it by registering the checkpoints again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise CheckpointError(f"{path} is not a trainforge registry index (no 'models' mapping)")
    return data


def write_index(root: Path, index: dict[str, Any]) -> None:
    path = root / INDEX
    try:
        atomic_write_text(path, json.dumps(index, indent=2, sort_keys=False) + "\n")
    except OSError as exc:
        raise CheckpointError(f"could not write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the registry's exclusive lock (blocking) for the body."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the registry folder {root}: {exc.strerror}; pass --registry DIR"
        ) from None
    with file_lock(root / LOCK):
        yield


__all__ = [
    "DEFAULT_REGISTRY",
    "INDEX",
    "empty_index",
    "locked",
    "read_index",
    "registry_root",
    "write_index",
]
