"""CSV files: feature columns as raw float rows, the target column left as read.

A CSV is "pixel layout" (Kaggle-MNIST style) when every feature column is named
``pixel<number>``: its rows are flattened single-channel images.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainforge.data.labels import pick_target_column
from trainforge.errors import DataError, shown

_PIXEL = re.compile(r"pixel(\d+)")


@dataclass
class Table:
    """A CSV as raw model inputs ([N, F] float32, pixels still flat) and its target column."""

    inputs: torch.Tensor
    target: pd.Series | None
    feature_names: list[str]
    target_column: str | None
    image_hw: tuple[int, int] | None  # set for pixel layout


def sniff_delimiter(path: str | Path) -> str:
    """Comma unless the header is clearly separated by ';', tab or '|' (European and TSV exports)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return ","
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 and counts[","] == 0 else ","


def read_csv_file(path: str | Path, where: str) -> pd.DataFrame:
    """The file as a data frame with string column names; empty or unreadable files fail."""
    try:
        frame = pd.read_csv(path, sep=sniff_delimiter(path))
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: CSV file {path} is empty; it needs a header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{where}: cannot read CSV file {path} ({first_line}); fix the file"
        ) from None
    if len(frame) == 0:
        raise DataError(f"{where}: CSV file {path} has a header but no rows; add data rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def is_pixel_layout(columns: Sequence[str]) -> bool:
    return len(columns) > 0 and all(_PIXEL.fullmatch(c) for c in columns)


def pixel_order(columns: Sequence[str]) -> list[str]:
    """Pixel columns in pixel order (pixel2 before pixel10), whatever the file's order."""
    return sorted(columns, key=lambda c: int(c.removeprefix("pixel")))


def pixel_image_size(
    n_pixels: int, image_size: int | list[int] | None, where: str
) -> tuple[int, int]:
    """(height, width) of pixel rows: ``data.image_size`` or the square root of the count."""
    if image_size is not None:
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        if h * w != n_pixels:
            raise DataError(
                f"{where}: data.image_size {image_size} means {h * w} pixels but the file has "
                f"{n_pixels} pixel columns; fix data.image_size"
            )
        return h, w
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise DataError(
            f"{where}: {n_pixels} pixel columns do not form a square image; "
            "set data.image_size: [height, width]"
        )
    return side, side


def numeric_matrix(frame: pd.DataFrame, columns: Sequence[str], where: str) -> np.ndarray:
    """The columns as a float32 matrix; the first missing, non-numeric or infinite value fails.

    Line numbers count as in the file: the header is line 1, the first row line 2.
    """
    part = frame[list(columns)]
    coerced = part.apply(pd.to_numeric, errors="coerce")
    values = coerced.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raw = part.iat[row, col]
        if pd.isna(raw):
            problem = "missing value"
        elif np.isinf(values[row, col]):
            problem = f"infinite value {shown(raw)}"
        else:
            problem = f"non-numeric value {shown(raw)}"
        raise DataError(
            f"{where}: line {row + 2}, column '{columns[col]}': {problem}; "
            "features must be finite numbers: fix or remove that row"
        )
    return values.astype(np.float32)


def _check_target_present(frame: pd.DataFrame, target: str, where: str) -> None:
    missing = np.flatnonzero(frame[target].isna().to_numpy())
    if missing.size:
        raise DataError(
            f"{where}: line {int(missing[0]) + 2}, column '{target}': missing target value; "
            "fill it in or remove that row"
        )


def read_training_csv(
    path: str | Path, target_column: str | None, image_size: int | list[int] | None, where: str
) -> Table:
    frame = read_csv_file(path, where)
    target = pick_target_column(list(frame.columns), target_column, where)
    features = [c for c in frame.columns if c != target]
    if not features:
        raise DataError(
            f"{where}: {path} has only the target column '{target}'; add feature columns"
        )
    _check_target_present(frame, target, where)
    image_hw = None
    if is_pixel_layout(features):
        features = pixel_order(features)
        image_hw = pixel_image_size(len(features), image_size, where)
    inputs = torch.from_numpy(numeric_matrix(frame, features, where))
    return Table(inputs, frame[target], features, target, image_hw)


def read_csv_like(
    path: str | Path,
    feature_names: list[str],
    target_column: str | None,
    where: str,
    *,
    require_target: bool,
) -> Table:
    """A further CSV (validation, test, prediction) with the training file's feature columns."""
    frame = read_csv_file(path, where)
    target = target_column if target_column in frame.columns else None
    if require_target and target is None:
        raise DataError(
            f"{where}: {path} has no target column '{target_column}'; "
            "add it (the validation and test data need targets)"
        )
    present = [c for c in frame.columns if c != target]
    missing = [c for c in feature_names if c not in frame.columns]
    known = set(feature_names)
    extra = [c for c in present if c not in known]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:10]))
        if extra:
            parts.append("unexpected " + ", ".join(extra[:10]))
        raise DataError(
            f"{where}: feature columns of {path} differ from the training data "
            f"({'; '.join(parts)}); use the training file's columns"
        )
    if target is not None:
        _check_target_present(frame, target, where)
    inputs = torch.from_numpy(numeric_matrix(frame, feature_names, where))
    return Table(inputs, frame[target] if target else None, list(feature_names), target, None)
