"""metrics.json and alerts.jsonl: JSON Lines that stay valid JSON even when a loss is NaN.

Non-finite numbers: JSON has no NaN, and Python's ``NaN`` token breaks strict parsers (jq,
browsers, pandas with some engines). Each non-finite float is therefore written as ``null``
and named in a ``"nonfinite"`` map from its dotted path to ``"nan"``, ``"inf"`` or ``"-inf"``:

    {"type": "step", "step": 7, "loss": null, "nonfinite": {"loss": "nan"}, ...}

Plain JSON tools see a missing value and can still find the NaN; :func:`read_jsonl` puts the
float back (``math.nan``) and keeps the ``nonfinite`` map, so a monitor can test for it either
way.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from trainforge.logging._files import AppendFile
from trainforge.logging.schema import SCHEMA_VERSION, check_version

_NONFINITE = "nonfinite"


def _plain(value: Any, path: str, found: dict[str, str]) -> Any:
    """``value`` as JSON-ready python, recording non-finite floats in ``found``."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        found[path] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, dict):
        return {
            str(k): _plain(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}.{i}" if path else str(i), found) for i, v in enumerate(value)]
    # numpy scalars/arrays and tensors all offer tolist(); anything else is shown as text.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _plain(tolist(), path, found)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def encode_record(record: dict[str, Any]) -> str:
    """One JSON line (without newline) for ``record``; see the module doc for NaN and inf."""
    found: dict[str, str] = {}
    plain = _plain({k: v for k, v in record.items() if k != _NONFINITE}, "", found)
    if found:
        plain[_NONFINITE] = found
    return json.dumps(plain, ensure_ascii=False, allow_nan=False)


def _restore(record: dict[str, Any]) -> dict[str, Any]:
    marks = record.get(_NONFINITE)
    if not isinstance(marks, dict):
        return record
    for dotted, text in marks.items():
        try:
            value = float(text)
        except (TypeError, ValueError):
            continue
        _set_path(record, str(dotted).split("."), value)
    return record


def _set_path(node: Any, parts: list[str], value: float) -> None:
    # Keys may themselves contain dots, so try the longest key first at each level.
    for take in range(len(parts), 0, -1):
        head, rest = ".".join(parts[:take]), parts[take:]
        if isinstance(node, dict) and head in node:
            child_key: Any = head
        elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
            child_key = int(head)
        else:
            continue
        if not rest:
            node[child_key] = value
        else:
            _set_path(node[child_key], rest, value)
        return


def decode_line(line: str | bytes) -> dict[str, Any]:
    """Parse one JSON line, restoring non-finite floats; raises ValueError if it is not JSON."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("a log line must hold a JSON object")
    return _restore(record)


def read_jsonl_from(
    path: str | os.PathLike[str], offset: int = 0, *, strict: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Records of complete lines from byte ``offset`` on, and the offset to continue from.

    A record of a newer ``schema_version`` than this trainforge reads raises LogError.

    For tailing a live log: a final line without its newline is still being written (or was
    torn by a kill), so it is left for the next call. Lines that are not JSON are skipped
    unless ``strict``, which raises ValueError naming the file and line offset.
    """
    p = Path(path)
    with p.open("rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    records: list[dict[str, Any]] = []
    start = 0
    for raw in data[:end].split(b"\n")[:-1]:
        line_at = offset + start
        start += len(raw) + 1
        if not raw.strip():
            continue
        try:
            record = decode_line(raw)
        except ValueError as exc:
            if strict:
                raise ValueError(f"{p}: byte {line_at}: not a JSON record ({exc})") from None
            continue
        check_version(record.get("schema_version"), str(p))
        records.append(record)
    return records, offset + end


def read_jsonl(path: str | os.PathLike[str], *, strict: bool = False) -> list[dict[str, Any]]:
    """All complete records of a JSON Lines log; a torn final line is skipped."""
    return read_jsonl_from(path, 0, strict=strict)[0]


class JsonlSink:
    """``logs/metrics.json``: one JSON object per record, flushed as written."""

    name = "metrics"

    def __init__(self, path: str | os.PathLike[str], *, truncate_at: int | None = None) -> None:
        self._file = AppendFile(path, truncate_at=truncate_at)
        self.path = self._file.path

    def log(self, record: dict[str, Any]) -> None:
        if "type" not in record:
            raise ValueError(f"log record without a 'type': {record!r}")
        stamped = {
            "type": record["type"],
            "schema_version": SCHEMA_VERSION,
            "time": record.get("time", time.time()),
            **record,
        }
        stamped["schema_version"] = SCHEMA_VERSION
        self._file.write_line(encode_record(stamped))

    def position(self) -> int:
        """Byte offset after the last complete record (store it in checkpoints)."""
        return self._file.position()

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position()}

    def truncate(self, offset: int) -> None:
        """Drop every line written after ``offset`` (see :meth:`position`)."""
        self._file.truncate(offset)

    def close(self) -> None:
        self._file.close()


ALERT_LEVELS = ("info", "warning", "error")


class AlertSink(JsonlSink):
    """``logs/alerts.jsonl``: anomalies found while training, one alert record per line."""

    name = "alerts"

    def log(self, record: dict[str, Any]) -> None:
        level = record.get("level", "warning")
        if level not in ALERT_LEVELS:
            raise ValueError(f"alert level must be one of {ALERT_LEVELS}, got {level!r}")
        super().log({"type": "alert", **record, "level": level})

    def alert(
        self,
        rule: str,
        message: str,
        *,
        level: str = "warning",
        step: int | None = None,
        epoch: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Write one alert and return the record as written (before JSON encoding)."""
        record = {
            "type": "alert",
            "level": level,
            "rule": rule,
            "message": message,
            "step": step,
            "epoch": epoch,
            **fields,
        }
        self.log(record)
        return record
