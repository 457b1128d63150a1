"""The step lines of a metrics log, read as comma-separated text: the fast path of a big log.

The writer gives every step record the same flat shape (``{"type": "step", "schema_version":
1, "time": ..., "step": ..., ...}``: the same keys, in the same order, numbers only), so split
at commas each field of a step line is ``"key": number`` at a fixed column. polars' CSV reader
splits the lines in native code, and a row counts as a step only when every kept column holds
the key it should, the line has no extra field and every number parses. That is about twice
as fast as a JSON parser on a million-line log. Every other line (validations, epochs, events,
resources, a step that logged a non-finite value, anything written in another shape) is
returned as raw bytes for the shared decoder, so what is read is what ``json.loads`` would
read. Those lines are found without another pass over the file: each row's byte length
follows from its fields' lengths, and a line too long to tell is measured on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from trainforge.logging import schema

_STEP_START = b'{"type": "step", '
# Past this many lines of unknown length, one scan for every newline is the cheaper way.
_MAX_MEASURED = 50_000


def step_shape(data: bytes) -> list[str] | None:
    """The keys of the first step line, when it has the writer's flat, numbers-only shape."""
    at = 0 if data.startswith(_STEP_START) else data.find(b"\n" + _STEP_START) + 1
    if at == 0 and not data.startswith(_STEP_START):
        return None
    try:
        record = json.loads(data[at : data.index(b"\n", at)])
    except ValueError:
        return None
    keys = list(record)
    numbers = all(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in record.items()
        if k != "type"
    )
    if keys[:2] != ["type", "schema_version"] or not numbers:
        return None
    return keys


def read_steps(
    data: bytes, fields: Sequence[str]
) -> tuple[dict[str, np.ndarray], list[bytes]] | None:
    """Columns ``fields`` of the step lines of ``data`` (complete lines) and every other line
    as raw bytes, in file order; None when this shortcut does not apply."""
    import polars as pl

    keys = step_shape(data)
    if keys is None:
        return None
    last = len(keys) - 1
    position = {k: i for i, k in enumerate(keys)}
    wanted = [f for f in fields if f in position]
    # Every field of a step line, one more (a step with an extra field is no plain step) and
    # one beyond that: a line that reaches it is longer than its columns tell.
    names = [f"c{i}" for i in range(last + 3)]
    checks: list[Any] = [
        pl.col(names[0]) == _STEP_START[:-2].decode(),
        pl.col(names[1]) == f' "schema_version": {schema.SCHEMA_VERSION}',
        pl.col(names[last]).str.ends_with("}"),
        pl.col(names[last + 1]).is_null(),
    ]
    values = []
    for field in wanted:
        i = position[field]
        prefix = ("" if i == 0 else " ") + json.dumps(field) + ": "
        text = pl.col(names[i])
        checks.append(text.str.starts_with(prefix))
        number = text.str.slice(len(prefix))
        if i == last:
            number = number.str.strip_suffix("}")
        values.append(number.cast(pl.Float64, strict=False).alias(field))
    parsed = [pl.col(f).is_not_null() for f in wanted]
    query = (
        pl.scan_csv(
            data,
            has_header=False,
            separator=",",
            quote_char=None,
            schema=dict.fromkeys(names, pl.String),
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
        .select(
            *values,
            pl.all_horizontal(checks).fill_null(False).alias("_step"),
            _line_length(names).alias("_length"),
            pl.col(names[-1]).is_not_null().alias("_long"),
        )
        .with_columns(pl.all_horizontal(pl.col("_step"), *parsed).alias("_step"))
    )
    try:
        table = _collect(query)
    except Exception:  # polars' errors share no useful base class; the caller falls back
        return None
    is_step = table["_step"].to_numpy()
    rows = np.flatnonzero(~is_step)
    starts = _line_starts(data, table["_length"].to_numpy(), table["_long"].to_numpy(), rows)
    if starts is None:
        starts = _line_starts_by_scan(data, rows, table.height)
    if starts is None:
        return None
    steps = {f: table[f].to_numpy()[is_step] for f in wanted}
    lines = [data[at : data.index(b"\n", at)] for at in starts.tolist()]
    return steps, [line for line in lines if line.strip()]


def _collect(query: Any) -> Any:
    """The streaming engine: it parses and converts the file a slice at a time, so the text
    columns of a big log never all exist at once (a third less system time, fewer page
    faults); polars releases older than the engine run the query whole."""
    try:
        return query.collect(engine="streaming")
    except (TypeError, ValueError):
        return query.collect()


def _line_length(names: Sequence[str]) -> Any:
    """A row's bytes with its newline: its fields, the commas between them and the newline
    (an empty field is null, so the commas are counted from the last field present)."""
    import polars as pl

    sizes = [pl.col(n).str.len_bytes().fill_null(0) for n in names]
    present = [pl.when(pl.col(n).is_not_null()).then(i) for i, n in enumerate(names)]
    return pl.sum_horizontal(sizes) + pl.max_horizontal(present).fill_null(0) + 1


def _line_starts(
    data: bytes, lengths: np.ndarray, long: np.ndarray, rows: np.ndarray
) -> np.ndarray | None:
    """Where lines ``rows`` start, from every row's length; a line longer than its columns
    tell is measured in ``data`` itself. None when the lengths do not add up to ``data``
    (a carriage return polars dropped, a trailing empty field): the caller scans instead."""
    measured = np.flatnonzero(long)
    if measured.size > _MAX_MEASURED:
        return None
    lengths = lengths.astype(np.int64)
    lengths[measured] = 0
    ends = np.cumsum(lengths)
    before = ends - lengths  # where each row starts, less the measured lines before it
    extra = np.zeros(measured.size + 1, dtype=np.int64)
    for n, row in enumerate(measured.tolist()):
        start = int(before[row]) + int(extra[n])
        end = data.find(b"\n", start)
        if end < 0:
            return None
        extra[n + 1] = extra[n] + end + 1 - start
    if int(ends[-1] if ends.size else 0) + int(extra[-1]) != len(data):
        return None
    starts = before[rows] + extra[np.searchsorted(measured, rows)]
    heads = np.frombuffer(data, dtype=np.uint8)[np.maximum(starts - 1, 0)]
    if not np.all((heads == 10) | (starts == 0)):
        return None
    return starts


def _line_starts_by_scan(data: bytes, rows: np.ndarray, height: int) -> np.ndarray | None:
    """Where lines ``rows`` start, from one scan for every newline of ``data``."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if len(ends) != height:
        return None
    return np.concatenate(([0], ends[:-1] + 1))[rows]
