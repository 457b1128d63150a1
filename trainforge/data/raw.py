"""Any data path → raw inputs as ``build_preprocess`` expects them, plus targets if present.

Used for validation and test files during training, and by evaluate/predict afterwards:
the feature columns, classes and image size all come from the training run's spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from trainforge._fileio import describe_missing
from trainforge.data.builtin import NAMES, builtin_name, is_builtin, load_builtin
from trainforge.data.images import (
    IMAGE_EXTENSIONS,
    ImageList,
    list_any_folder,
    list_class_folder,
    read_images,
)
from trainforge.data.labels import encode_labels, regression_targets
from trainforge.data.spec import InputSpec
from trainforge.data.tables import read_csv_like
from trainforge.errors import DataError

SourceKind = Literal["builtin", "csv", "image_folder", "image_file"]
EIGHT_BIT = 1.0 / 255.0


def source_kind(path: str, where: str) -> SourceKind:
    """builtin:NAME, a folder of images, one image file, or (any other file) a CSV file."""
    if is_builtin(path):
        try:
            builtin_name(path)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        return "builtin"
    if not Path(path).exists():
        raise DataError(
            f"{where}: {describe_missing(Path(path))}; give a CSV file, an image folder or one of "
            + ", ".join(f"builtin:{n}" for n in NAMES)
        )
    if Path(path).is_dir():
        return "image_folder"
    return "image_file" if Path(path).suffix.lower() in IMAGE_EXTENSIONS else "csv"


def load_raw_inputs(path: str, spec: InputSpec) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(raw inputs, targets or None) of a CSV file, image folder or builtin:NAME."""
    return read_raw(path, spec, where=str(path), require_targets=False)


def read_raw(
    path: str, spec: InputSpec, *, where: str, require_targets: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if spec.source_format == "custom":
        raise DataError(
            f"{where}: the model was trained on a custom dataset; "
            "prepare its inputs with the same code that built that dataset"
        )
    kind = source_kind(path, where)
    if kind == "builtin":
        return _builtin(path, spec, where)
    if kind in ("image_folder", "image_file"):
        _check_images_fit(spec, where, "an image folder" if kind == "image_folder" else "an image")
    if kind == "image_folder":
        listing = (
            list_class_folder(Path(path), where, spec.class_names)
            if require_targets
            else list_any_folder(Path(path), where, spec.class_names)
        )
        return _images(listing, spec, where)
    if kind == "image_file":
        if require_targets:
            raise DataError(
                f"{where}: one image has no label to evaluate against; give a folder "
                "<root>/<class>/*.png"
            )
        return _images(ImageList([path], None, None), spec, where)
    return _csv(path, spec, where, require_targets)


def raw_shape(spec: InputSpec) -> list[int]:
    """Shape of one raw sample: pixel CSV rows stay flat until build_preprocess reshapes them."""
    if spec.preprocessing.get("input_layout") == "flat":
        return [int(np.prod(spec.shape))]
    return list(spec.shape)


def _class_names(spec: InputSpec, where: str) -> list[str]:
    if spec.class_names is None:
        raise DataError(f"{where}: the model's input spec names no classes; retrain the model")
    return spec.class_names


def _csv(
    path: str, spec: InputSpec, where: str, require_targets: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if spec.kind == "image":
        count = int(np.prod(spec.shape))
        features = spec.feature_names or [f"pixel{i}" for i in range(count)]
        target_column: str | None = spec.target_column or "label"
    else:
        if spec.feature_names is None:
            raise DataError(f"{where}: the model's input spec has no feature names to read")
        features = spec.feature_names
        target_column = spec.target_column
    table = read_csv_like(path, features, target_column, where, require_target=require_targets)
    inputs = table.inputs.reshape(-1, *raw_shape(spec))
    if table.target is None:
        return inputs, None
    if spec.task == "regression":
        return inputs, torch.from_numpy(regression_targets(table.target, where))
    classes = _class_names(spec, where)
    return inputs, torch.from_numpy(encode_labels(list(table.target), classes, where))


def _check_images_fit(spec: InputSpec, where: str, what: str) -> None:
    if spec.kind != "image" or spec.preprocessing.get("pixel_scale") != EIGHT_BIT:
        raise DataError(
            f"{where}: {what} cannot feed this model (trained on {spec.source_format} "
            "data); give data in the training format"
        )


def _images(
    listing: ImageList, spec: InputSpec, where: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    p = spec.preprocessing
    mode = "L" if p["channels"] == 1 else "RGB"
    hw = (int(p["image_size"][0]), int(p["image_size"][1]))
    inputs = read_images(listing.paths, mode, hw).reshape(-1, *raw_shape(spec))
    if listing.labels is None:
        return inputs, None
    return inputs, torch.tensor(listing.labels, dtype=torch.int64)


def _builtin(path: str, spec: InputSpec, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_builtin(path)
    expected = raw_shape(spec)
    if list(data.inputs.shape[1:]) != expected or data.task != spec.task:
        raise DataError(
            f"{where}: {path} has samples of shape {list(data.inputs.shape[1:])} "
            f"({data.task}) but the model expects {expected} ({spec.task}); use matching data"
        )
    if data.class_names is None:
        return data.inputs, data.targets
    names = [data.class_names[i] for i in data.targets.tolist()]
    return data.inputs, torch.from_numpy(encode_labels(names, _class_names(spec, where), where))
