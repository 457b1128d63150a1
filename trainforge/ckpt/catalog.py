"""Scan a folder of checkpoints into records: what each file holds, or why it cannot be read."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainforge._clock import iso_time
from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.selection import Candidate, best_tags, last_name
from trainforge.errors import CheckpointError, UsageError

OK, DAMAGED, FOREIGN = "ok", "damaged", "not trainforge"


@dataclass
class CatalogEntry:
    """One ``*.pth`` file of a checkpoint folder."""

    name: str
    path: Path
    size: int
    modified: float
    status: str  # ok | damaged | not trainforge
    reason: str | None = None
    epoch: int | None = None
    step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    created: float | None = None
    checksum: str | None = None
    monitor: str | None = None  # the run's first checkpointing.monitor
    tags: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.status == OK

    def candidate(self) -> Candidate:
        return Candidate(self.name, self.step or 0, self.metrics, self.created or self.modified)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "status": self.status,
            "reason": self.reason,
            "epoch": self.epoch,
            "step": self.step,
            "metrics": dict(self.metrics),
            "size": self.size,
            "created": iso_time(self.created) if self.created is not None else None,
            "modified": iso_time(self.modified),
            "checksum": self.checksum,
            "tags": list(self.tags),
        }


def scan(folder: str | os.PathLike[str]) -> list[CatalogEntry]:
    """Every ``*.pth`` of ``folder`` (or of ``folder/checkpoints`` for a run folder), sorted by
    step then name, with tags. Unreadable files are entries with a status, never an error."""
    root = checkpoint_folder(folder)
    entries = [read_entry(p) for p in sorted(root.glob("*.pth")) if p.is_file()]
    if not entries:
        raise UsageError(f"--checkpoint_dir {root}: no .pth files there; check the path")
    tag(entries)
    entries.sort(key=lambda e: (e.step is None, e.step or 0, e.name))
    return entries


def checkpoint_folder(folder: str | os.PathLike[str]) -> Path:
    root = Path(folder)
    if not root.exists():
        raise UsageError(f"--checkpoint_dir {root} does not exist; check the path")
    if not root.is_dir():
        raise UsageError(f"--checkpoint_dir {root} is a file; give the folder that holds it")
    # A run folder is accepted for its checkpoints/ subfolder.
    if not any(root.glob("*.pth")) and (root / "checkpoints").is_dir():
        return root / "checkpoints"
    return root


def read_entry(path: Path) -> CatalogEntry:
    stat = path.stat()
    entry = CatalogEntry(path.name, path, stat.st_size, stat.st_mtime, OK)
    try:
        state = load_checkpoint(path, require_trainforge=False)
    except CheckpointError as exc:
        entry.status, entry.reason = DAMAGED, str(exc)
        return entry
    if "format_version" not in state:
        entry.status = FOREIGN
        entry.reason = "a plain state dict (weights only), not a full trainforge checkpoint"
        return entry
    trainer = state.get("trainer") or {}
    entry.epoch = _int(trainer.get("epoch"))
    entry.step = _int(trainer.get("global_step"))
    entry.metrics = {
        str(k): float(v)
        for k, v in (state.get("metrics") or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    created = state.get("created")
    entry.created = float(created) if isinstance(created, (int, float)) else None
    entry.checksum = state.get("checksum")
    monitors = ((state.get("config") or {}).get("checkpointing") or {}).get("monitor")
    if isinstance(monitors, list):
        monitors = monitors[0] if monitors else None
    entry.monitor = str(monitors) if monitors else None
    return entry


def tag(entries: list[CatalogEntry]) -> None:
    readable = [e.candidate() for e in entries if e.readable]
    best = best_tags(readable)
    last = last_name(readable)
    for e in entries:
        if not e.readable:
            e.tags = [e.status]
            continue
        e.tags = [f"best {m}" for m in best.get(e.name, [])]
        if e.name == last:
            e.tags.insert(0, "last")


def metric_columns(entries: list[CatalogEntry]) -> list[str]:
    """Metric names for a table: validation first, then training, then the rest."""
    names = {m for e in entries for m in e.metrics}

    def order(name: str) -> tuple[int, str]:
        if name.startswith("val_"):
            return 0, name
        if name.startswith("train_"):
            return 1, name
        return 2, name

    return sorted(names, key=order)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["CatalogEntry", "checkpoint_folder", "metric_columns", "read_entry", "scan", "tag"]
