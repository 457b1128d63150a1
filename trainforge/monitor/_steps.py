"""The step lines of a metrics log, read as comma-separated text: the fast path of a big log.

The writer gives every step record the same flat shape (``{"type": "step", "schema_version":
1, "time": ..., "step": ..., ...}``: the same keys, in the same order, numbers only), so split
at commas each field of a step line is ``"key": number`` at a fixed column. polars' CSV reader
splits the lines in native code, only the columns the caller asks for are kept, and a row
counts as a step only when every kept column holds the key it should, the line has no extra
field and every number parses. That is about twice as fast as a JSON parser on a
million-line log. Every other line (validations, epochs, events, resources, a step that
logged a non-finite value, anything written in another shape) is returned as raw bytes for
the shared decoder, so what is read is what ``json.loads`` would read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from trainforge.logging import schema

_STEP_START = b'{"type": "step", '
# Lines that do not start like a step record; one regex scan in C finds them.
_OTHER_START = re.compile(rb"\n(?!" + re.escape(_STEP_START) + rb")")


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
    names = {i: f"c{i}" for i in range(last + 2)}
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator=",",
            quote_char=None,
            schema={name: pl.String for name in names.values()},
            columns=sorted({0, 1, last, last + 1, *(position[f] for f in wanted)}),
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except Exception:  # polars' errors share no useful base class; the caller falls back
        return None
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
    table = frame.select(*values, pl.all_horizontal(checks).fill_null(False).alias("_step"))
    parsed = [pl.col(f).is_not_null() for f in wanted]
    table = table.with_columns(pl.all_horizontal(pl.col("_step"), *parsed).alias("_step"))
    is_step = table["_step"].to_numpy()
    others = _lines_of(data, np.flatnonzero(~is_step), table.height)
    if others is None:
        return None
    steps = table.filter(pl.col("_step"))
    return {f: steps[f].to_numpy() for f in wanted}, others


def _lines_of(data: bytes, rows: np.ndarray, height: int) -> list[bytes] | None:
    """The text of lines ``rows`` (0-based) of ``data``, which has ``height`` lines."""
    starts = [m.start() + 1 for m in _OTHER_START.finditer(data, 0, len(data) - 1)]
    if not data.startswith(_STEP_START):
        starts.insert(0, 0)
    if len(starts) != len(rows):
        # Some line that starts like a step is no plain step (a non-finite value, another
        # shape): find every line's start instead.
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        if len(ends) != height:
            return None
        all_starts = np.concatenate(([0], ends[:-1] + 1))
        starts = all_starts[rows].tolist()
    lines = [data[at : data.index(b"\n", at)] for at in starts]
    return [line for line in lines if line.strip()]
