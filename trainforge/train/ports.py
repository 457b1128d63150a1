"""The seams of a run, as types: what the trainer and the session need from the loggers and
the run folder. Rank 0 of a run gets the real ones (``trainforge.logging.Loggers``,
``RunFolder``); the other ranks of a data-parallel run get silent stand-ins
(``distributed.SilentLoggers``, ``distributed.FollowerFolder``) with the same shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from trainforge.data import DataBundle

RunData = DataBundle
"""The data of a run: input spec, training and validation batches, class counts."""


class TextLog(Protocol):
    """The human-readable log (``train.log``, echoed to the terminal)."""

    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def error(self, message: str) -> None: ...


class RecordLog(Protocol):
    """The metrics log alone (``metrics.jsonl``)."""

    def log(self, record: dict[str, Any]) -> None: ...


class RunLog(Protocol):
    """Every record of a run goes through this: metrics, events, alerts, text."""

    @property
    def text(self) -> TextLog: ...

    @property
    def metrics(self) -> RecordLog: ...

    def log(self, record: dict[str, Any]) -> None: ...

    def alert(self, rule: str, message: str, **fields: Any) -> Any: ...

    def positions(self, step: int | None = None) -> dict[str, Any]:
        """Where each log file ends, for a checkpoint (a resume truncates back to it)."""
        ...

    def rewind(self, positions: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class RunFolderLike(Protocol):
    """The run folder: its paths, and the files written at the start and end of a run."""

    @property
    def root(self) -> Path: ...

    @property
    def checkpoint_dir(self) -> Path: ...

    @property
    def log_dir(self) -> Path: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    def write_config(self, text: str) -> object: ...

    def write_requirements(self) -> object: ...

    def update_metadata(self, **fields: Any) -> Any: ...

    def release(self) -> None: ...


__all__ = ["RecordLog", "RunData", "RunFolderLike", "RunLog", "TextLog"]
