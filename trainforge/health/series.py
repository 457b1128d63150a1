"""A run's metric series: columns of numbers per record type, what the health rules read.

Built record by record (live, from the records the trainer logs; small logs) or column by
column (the monitor's fast reader of a large ``metrics.json``). Missing values are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainforge.logging import schema

Table = dict[str, np.ndarray]

RESOURCE_FIELDS = (
    "step",
    "time",
    "cpu_percent",
    "rss_mb",
    "system_memory_percent",
    "gpu_utilization",
    "gpu_memory_used_mb",
    "gpu_temperature_c",
    "gpu_power_w",
)


def column(table: Table, name: str) -> np.ndarray:
    """``table[name]``, or NaNs of the table's length when the log never had that value."""
    if name in table:
        return table[name]
    length = len(next(iter(table.values()))) if table else 0
    return np.full(length, np.nan)


def length(table: Table) -> int:
    return len(next(iter(table.values()))) if table else 0


@dataclass
class Series:
    steps: Table = field(default_factory=dict)
    validations: Table = field(default_factory=dict)
    epochs: Table = field(default_factory=dict)
    resources: Table = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Series:
        builder = SeriesBuilder()
        for record in records:
            builder.add(record)
        return builder.build()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def gpu_summary(record: dict[str, Any]) -> dict[str, float]:
    """A resources record's GPUs as one row: mean utilisation/temperature, summed memory/power."""
    gpus = [g for g in record.get("gpus") or [] if isinstance(g, dict)]
    if not gpus:
        return {}

    def values(key: str) -> list[float]:
        return [v for v in (_number(g.get(key)) for g in gpus) if not math.isnan(v)]

    out = {}
    for key, name, reduce in (
        ("utilization", "gpu_utilization", np.mean),
        ("memory_used_mb", "gpu_memory_used_mb", np.sum),
        ("temperature_c", "gpu_temperature_c", np.max),
        ("power_w", "gpu_power_w", np.sum),
    ):
        found = values(key)
        if found:
            out[name] = float(reduce(found))
    return out


class SeriesBuilder:
    """Appends records; :meth:`build` returns the arrays (cheap enough to call repeatedly)."""

    def __init__(self) -> None:
        self._steps: dict[str, list[float]] = {k: [] for k in schema.STEP_FIELDS}
        self._validations: list[dict[str, float]] = []
        self._epochs: list[dict[str, float]] = []
        self._resources: list[dict[str, float]] = []

    def add(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == schema.STEP:
            for key, values in self._steps.items():
                values.append(_number(record.get(key)))
        elif kind in (schema.VALIDATION, schema.EPOCH):
            row = {"step": _number(record.get("step")), "epoch": _number(record.get("epoch"))}
            metrics = record.get("metrics")
            if isinstance(metrics, dict):
                row.update({str(k): _number(v) for k, v in metrics.items()})
            (self._validations if kind == schema.VALIDATION else self._epochs).append(row)
        elif kind == schema.RESOURCES:
            row = {k: _number(record.get(k)) for k in RESOURCE_FIELDS[:5]}
            row.update(gpu_summary(record))
            self._resources.append(row)

    def drop_from(self, step: int) -> None:
        """Forget every record of ``step`` or later: a rollback rewound the run to the
        checkpoint before it, and the log files lost those records too."""
        steps = self._steps["step"]
        cut = len(steps)
        while cut and steps[cut - 1] >= step:
            cut -= 1
        for values in self._steps.values():
            del values[cut:]
        for rows in (self._validations, self._epochs, self._resources):
            rows[:] = [row for row in rows if not row.get("step", math.nan) >= step]

    def build(self) -> Series:
        steps = {k: np.asarray(v, dtype=np.float64) for k, v in self._steps.items()}
        return Series(
            steps if len(steps["step"]) else {},
            _table(self._validations),
            _table(self._epochs),
            _table(self._resources),
        )


def _table(rows: list[dict[str, float]]) -> Table:
    if not rows:
        return {}
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return {k: np.asarray([row.get(k, math.nan) for row in rows], dtype=np.float64) for k in keys}
