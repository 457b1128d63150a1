"""The sink interface and the one mapping from records to plottable scalars.

Trackers (TensorBoard, W&B, MLflow) all plot the same numbers under the same tags, so the
mapping lives here once instead of in each backend.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol, TypeGuard, runtime_checkable

from trainforge.errors import ConfigError

# Keys of a step record that describe the record rather than measure the model.
_STEP_META = frozenset({"type", "step", "epoch", "time", "schema_version", "nonfinite"})


class Sink(Protocol):
    """Somewhere records go: a file, an event log, a tracking service."""

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class StatefulSink(Protocol):
    """A sink with something to remember across a resume (a tracker's run id)."""

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...


def is_number(value: Any) -> TypeGuard[int | float]:
    """True for ints and floats (non-finite included), false for bools and everything else."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tracker_scalars(record: dict[str, Any]) -> tuple[int, dict[str, float]] | None:
    """The (global step, {tag: value}) a tracker plots for ``record``, or None.

    Step records become ``step/<key>``; validation and epoch records use the metric names
    themselves (``val_accuracy``, ``train_loss``), as docs/architecture.md specifies.
    Missing values (None) are left out; NaN and inf are kept so a tracker shows them.
    """
    step = record.get("step")
    if not is_number(step):
        return None
    kind = record.get("type")
    if kind == "step":
        values = {
            f"step/{key}": float(value)
            for key, value in record.items()
            if key not in _STEP_META and is_number(value)
        }
    elif kind in ("validation", "epoch"):
        metrics = record.get("metrics") or {}
        # An epoch record repeats the epoch's validation metrics for readers of metrics.json;
        # trackers get them once, from the validation record.
        skip = "val_" if kind == "epoch" else None
        values = {
            key: float(value)
            for key, value in metrics.items()
            if is_number(value) and not (skip and key.startswith(skip))
        }
    else:
        return None
    return (int(step), values) if values else None


def import_optional(module: str, key: str, extra: str) -> ModuleType:
    """Import an optional backend or raise a ConfigError that says how to fix it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] == module.split(".")[0]:
            raise ConfigError(
                f"{key} is true but {module} is not installed; "
                f"pip install 'trainforge[{extra}]' or set {key}: false"
            ) from None
        raise ConfigError(f"{key} is true but {module} failed to import: {exc}") from None
