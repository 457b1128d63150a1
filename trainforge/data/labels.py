"""Targets: which column, which task, which classes, and how labels become indices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trainforge.data.spec import Task
from trainforge.errors import DataError, shown

DEFAULT_TARGET_COLUMNS = ("label", "target")


def pick_target_column(columns: Sequence[str], requested: str | None, where: str) -> str:
    """``requested`` if given; else ``label``, else ``target``, else the last column."""
    if requested is not None:
        if requested not in columns:
            raise DataError(
                f"{where}: no target column '{requested}'; columns are {', '.join(columns)}; "
                "set data.target_column to one of them"
            )
        return requested
    for name in DEFAULT_TARGET_COLUMNS:
        if name in columns:
            return name
    return columns[-1]


def label_name(value: object) -> str:
    """The class name of one label value; 3, 3.0 and "3" all name class "3"."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def decide_task(values: pd.Series, requested: str) -> Task:
    """auto → classification, unless the targets are numbers with a fractional part."""
    if requested == "classification":
        return "classification"
    if requested == "regression":
        return "regression"
    if _is_numeric(values) and not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        return "regression"
    return "classification"


def regression_targets(values: pd.Series, where: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(~np.isfinite(numbers.to_numpy(dtype=float)))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{where}: line {row + 2}, column '{values.name}': target {shown(values.iloc[row])} is not "
            "a finite number; regression needs numeric targets (or set data.task: classification)"
        )
    return numbers.to_numpy(dtype=np.float32)


def training_classes(
    values: pd.Series, num_classes: int | None, where: str
) -> tuple[list[str], np.ndarray, list[str]]:
    """(class names, label indices, notices) for the training targets.

    Integer labels that already are indices 0..num_classes-1 keep their values when
    ``num_classes`` is given, so a class missing from the file cannot shift the others;
    otherwise the distinct labels, sorted (numerically for numbers), become 0..K-1.
    """
    names = [label_name(v) for v in values]
    numeric = _is_numeric(values)
    if numeric and num_classes is not None and all(n.lstrip("-").isdigit() for n in names):
        ints = values.to_numpy(dtype=np.int64)
        outside = sorted({int(v) for v in ints if not 0 <= v < num_classes})
        if outside:
            shown = ", ".join(str(v) for v in outside[:5])
            raise DataError(
                f"{where}: labels {shown} are outside 0..{num_classes - 1} "
                f"(model.num_classes is {num_classes}); fix the labels or model.num_classes"
            )
        return [str(i) for i in range(num_classes)], ints, []
    distinct = sorted(set(names), key=float if numeric else str)
    notices: list[str] = []
    if num_classes is not None:
        distinct, notices = fit_num_classes(distinct, num_classes, where)
    index = {name: i for i, name in enumerate(distinct)}
    return distinct, np.array([index[n] for n in names], dtype=np.int64), notices


def fit_num_classes(
    class_names: list[str], num_classes: int, where: str
) -> tuple[list[str], list[str]]:
    """Check the classes found against ``model.num_classes``; pad names for unused outputs."""
    found = len(class_names)
    if found > num_classes:
        raise DataError(
            f"{where}: found {found} classes but model.num_classes is {num_classes}; "
            "raise model.num_classes or remove it to infer it from the data"
        )
    if found == num_classes:
        return class_names, []
    padded = class_names + [f"unused_{i}" for i in range(found, num_classes)]
    notice = (
        f"model.num_classes is {num_classes} but the training data has {found} classes; "
        f"outputs {found}..{num_classes - 1} are never trained"
    )
    return padded, [notice]


def encode_labels(values: Sequence[object], class_names: list[str], where: str) -> np.ndarray:
    """Indices of ``values`` in the training classes; unknown classes are named in the error."""
    index = {name: i for i, name in enumerate(class_names)}
    names = [label_name(v) for v in values]
    unknown = sorted({n for n in names if n not in index})
    if unknown:
        shown = ", ".join(unknown[:10])
        raise DataError(
            f"{where}: class(es) {shown} do not occur in the training data "
            f"(training classes: {', '.join(class_names[:20])}); "
            "use the same classes as the training data"
        )
    return np.array([index[n] for n in names], dtype=np.int64)
