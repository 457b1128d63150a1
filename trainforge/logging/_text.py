"""``logs/train.log``: the run as a person reads it, optionally echoed to the console.

A plain file writer on purpose: configuring the standard ``logging`` module would also
capture (or silence) every library's loggers in the user's process.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from trainforge.logging._base import is_number
from trainforge.logging._files import AppendFile

# Keys rendered in the lead of a line (or not at all) rather than as key=value details.
_LEAD_KEYS = frozenset({"type", "step", "epoch", "epochs", "time", "schema_version", "nonfinite"})


def format_number(value: Any) -> str:
    """Compact, fixed-width-ish rendering: 0.2130, 1.234e-04, 12345, nan."""
    if isinstance(value, bool) or not is_number(value):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e3 <= abs(value) < 1e7:
        return f"{value:.0f}"
    if 1e-3 <= abs(value) < 1e3:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _epoch_text(record: dict[str, Any], total_epochs: int | None) -> str:
    epoch = record.get("epoch")
    total = record.get("epochs", total_epochs)
    if epoch is None:
        return ""
    return f"epoch {epoch}/{total}" if total else f"epoch {epoch}"


def _pairs(values: dict[str, Any]) -> str:
    return " ".join(f"{key} {format_number(value)}" for key, value in values.items())


def _where(record: dict[str, Any], total_epochs: int | None) -> str:
    parts = [_epoch_text(record, total_epochs)]
    if record.get("step") is not None:
        parts.append(f"step {record['step']}")
    return " ".join(p for p in parts if p)


def format_record(record: dict[str, Any], total_epochs: int | None = None) -> str | None:
    """One readable line for a metrics record, e.g.

    ``epoch 3/30 step 150 | train_loss 0.2130 | val_loss 0.1800 val_accuracy 0.9611 | 4.1 s``
    """
    kind = record.get("type")
    where = _where(record, total_epochs)
    if kind == "epoch":
        metrics = dict(record.get("metrics") or {})
        val = {k: v for k, v in metrics.items() if k.startswith("val_")}
        train = {k: v for k, v in metrics.items() if k not in val}
        sections = [where, _pairs(train), _pairs(val)]
        if is_number(record.get("duration")):
            sections.append(f"{record['duration']:.1f} s")
        return " | ".join(s for s in sections if s)
    if kind == "validation":
        return " | ".join(
            s for s in (f"validation {where}", _pairs(record.get("metrics") or {})) if s
        )
    if kind == "step":
        values = {k: v for k, v in record.items() if k not in _LEAD_KEYS and v is not None}
        return " | ".join(s for s in (where, _pairs(values)) if s)
    if kind == "event":
        details = {
            k: v
            for k, v in record.items()
            if k not in _LEAD_KEYS and k != "event" and v is not None
        }
        text = " ".join(f"{k}={format_number(v)}" for k, v in details.items())
        head = f"event {record.get('event', '?')}" + (f" ({where})" if where else "")
        return f"{head}: {text}" if text else head
    if kind == "alert":
        fix = f"; fix: {record['fix']}" if record.get("fix") else ""
        return f"[{record.get('rule', '?')}] {record.get('message', '')}{fix}"
    return None


def _echoed(record: dict[str, Any]) -> bool:
    """The console shows one line per epoch, validations inside an epoch, and stops; step
    records and checkpoint events stay in the file (a terminal has the progress bar)."""
    kind = record.get("type")
    if kind == "epoch":
        return True
    if kind == "validation":
        return bool(record.get("in_epoch"))
    return kind == "event" and record.get("event") in ("early_stop",)


class TextLog:
    """Timestamped lines: ``2026-11-29 05:40:01 INFO  epoch 3/30 ...``."""

    name = "text"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        truncate_at: int | None = None,
        echo: bool = False,
        total_epochs: int | None = None,
    ) -> None:
        self._file = AppendFile(path, truncate_at=truncate_at)
        self.path = self._file.path
        self.echo = echo
        self.total_epochs = total_epochs

    def _write(self, level: str, message: str, *, echo: bool = True) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        lines = str(message).rstrip("\n").split("\n")
        # Continuation lines (tracebacks) are indented so every entry starts with a stamp.
        text = f"{stamp} {level:<5} {lines[0]}" + "".join(f"\n    {ln}" for ln in lines[1:])
        self._file.write_line(text)
        if self.echo and echo:
            # Looked up per call: tests and progress bars may swap sys.stderr.
            print(text, file=sys.stderr, flush=True)

    def info(self, message: str) -> None:
        self._write("INFO", message)

    def warning(self, message: str) -> None:
        self._write("WARN", message)

    def error(self, message: str) -> None:
        self._write("ERROR", message)

    def log(self, record: dict[str, Any]) -> None:
        line = format_record(record, self.total_epochs)
        if line is None:
            return
        if record.get("type") == "alert":
            level = str(record.get("level", "warning"))
            self._write({"error": "ERROR", "info": "INFO"}.get(level, "WARN"), line)
        else:
            self._write("INFO", line, echo=_echoed(record))

    def position(self) -> int:
        return self._file.position()

    def truncate(self, offset: int) -> None:
        """Drop every line written after ``offset`` (see :meth:`position`)."""
        self._file.truncate(offset)

    def close(self) -> None:
        self._file.close()
