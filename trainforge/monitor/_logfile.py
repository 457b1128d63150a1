"""Reading ``metrics.json`` fast: a million-line log in about a second.

Step records are nearly all of a long log and all share one flat shape, so they are read as
comma-separated columns (:mod:`trainforge.monitor._steps`), or, when their shape is another,
through polars' NDJSON reader with a fixed schema in one call; the few other records
(validations, epochs, events, resources) and any step that logged a non-finite value go
through the shared decoder. A torn last line (a run still writing, or killed mid-line) is
left out, and lines that are not JSON are counted and skipped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainforge.errors import LogError
from trainforge.health.series import Series, SeriesBuilder
from trainforge.logging import decode_line, schema
from trainforge.monitor._background import Prefetch, read_bytes
from trainforge.monitor._steps import read_steps

# The step numbers the plots and the health rules read (not time or samples_per_sec).
USED_STEP_FIELDS = ("step", "epoch", "loss", "lr", "grad_norm", "data_wait")


@dataclass
class RunLog:
    """What a metrics log holds, as series for plots and rules, plus its events."""

    path: Path
    series: Series
    events: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    skipped: int = 0  # lines that are not JSON objects
    torn: bool = False  # the last line is incomplete


def read_log(
    path: str | Path,
    fields: Sequence[str] = schema.STEP_FIELDS,
    prefetched: Prefetch | None = None,
) -> RunLog:
    """Read a whole metrics.json (of step records, only ``fields``); a missing or empty file
    is a one-line LogError. ``prefetched`` is the same file already being read."""
    path = Path(path)
    data = prefetched.result() if prefetched is not None else read_bytes(path)
    end = data.rfind(b"\n") + 1
    torn = bool(data[end:].strip())
    data = data[:end]
    fast = read_steps(data, fields) if data else None
    if fast is None:
        fast = _read_fast(data, path)
    if fast is None:  # a line polars refused (not JSON, odd types): decode line by line
        return _read_slow(data, path, torn)
    steps, others = fast
    log = _read_others(others, path, torn)
    log.series.steps = _merge_steps(steps, log.series.steps)
    log.records += len(steps.get("step", ()))
    if not log.records:
        raise LogError(f"{path} holds no complete records yet; wait for the run to log")
    return log


_OTHER_TYPES = (schema.VALIDATION, schema.EPOCH, schema.EVENT, schema.RESOURCES, schema.ALERT)
# How the writer starts each line (``type`` first), found by one regex scan in C instead of a
# Python loop over a million lines.
_OTHER_START = re.compile(
    rb'\n\{"type": "(?:' + b"|".join(t.encode() for t in _OTHER_TYPES) + rb')"'
)


def _other_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` that start like a non-step record, in file order."""
    starts = [m.start() + 1 for m in _OTHER_START.finditer(data)]
    if _OTHER_START.match(b"\n" + data[:32]):
        starts.insert(0, 0)
    return [data[at : data.index(b"\n", at)] for at in starts]


def _line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the non-empty lines of ``data`` (which ends with a newline)."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    keep = ends > starts
    return starts[keep], ends[keep]


def _read_fast(data: bytes, path: Path) -> tuple[dict[str, np.ndarray], list[bytes]] | None:
    """Step columns (polars, one call) and the raw lines of every other record."""
    import polars as pl

    if not data:
        return {}, []
    fields = schema.STEP_FIELDS
    columns: dict[str, Any] = {"type": pl.String, "schema_version": pl.Int64}
    columns.update({name: pl.Float64 for name in fields})
    # The map of non-finite values costs a third of the parse; most logs have none.
    marked = b'"nonfinite"' in data
    if marked:
        columns["nonfinite"] = pl.Struct({name: pl.String for name in fields})
    try:
        frame = pl.read_ndjson(io.BytesIO(data), schema=columns)
    except Exception:  # polars' parse errors share no base class worth naming
        return None
    schema.check_version(frame["schema_version"].max(), str(path))
    is_step = (frame["type"] == schema.STEP).fill_null(False).to_numpy()
    wanted = frame["type"].is_in(list(_OTHER_TYPES)).fill_null(False).sum()
    others = _other_lines(data)
    if len(others) != wanted:  # records written with another key order: find them by row
        starts, ends = _line_bounds(data)
        if frame.height != len(starts):  # blank-looking lines polars skipped: stay exact
            return None
        others = [data[starts[i] : ends[i]] for i in np.flatnonzero(~is_step)]
    steps = frame.filter(pl.Series(is_step))
    out = {}
    for name in fields:
        values = steps[name].fill_null(np.nan).to_numpy()
        if marked:
            text = steps["nonfinite"].struct.field(name)
            restored = text.cast(pl.Float64, strict=False).to_numpy()
            values = np.where(np.isnan(restored), values, restored)
        out[name] = values
    return out, others


def _read_others(lines: list[bytes], path: Path, torn: bool) -> RunLog:
    builder = SeriesBuilder()
    events: list[dict[str, Any]] = []
    skipped = 0
    for line in lines:
        try:
            record = schema.check_record(decode_line(line), str(path))
        except ValueError:
            skipped += 1
            continue
        builder.add(record)
        if record.get("type") == schema.EVENT:
            events.append(record)
    return RunLog(path, builder.build(), events, len(lines) - skipped, skipped, torn)


def _read_slow(data: bytes, path: Path, torn: bool) -> RunLog:
    log = _read_others([ln for ln in data.split(b"\n") if ln.strip()], path, torn)
    if not log.records:
        raise LogError(f"{path} holds no complete records yet; wait for the run to log")
    return log


def _merge_steps(fast: dict[str, np.ndarray], slow: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not slow:
        return fast
    if not fast or not len(fast["step"]):
        return slow
    merged = {k: np.concatenate((fast[k], slow[k])) for k in fast if k in slow}
    order = np.argsort(merged["step"], kind="stable")
    return {k: v[order] for k, v in merged.items()}
