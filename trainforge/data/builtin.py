"""scikit-learn's bundled data sets (offline): ``builtin:digits|iris|wine|breast_cancer|diabetes``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trainforge.data.spec import Task
from trainforge.errors import DataError

PREFIX = "builtin:"
# digits pixels are integers 0..16: scaled by 1/16 to [0, 1], like 8-bit images by 1/255
DIGITS_PIXEL_SCALE = 1.0 / 16.0

# scikit-learn's loader per name and its keyword arguments; scikit-learn itself is imported
# only when a run reads one of these (its datasets module costs about a second of start-up).
_LOADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "digits": ("load_digits", {}),
    "iris": ("load_iris", {}),
    "wine": ("load_wine", {}),
    "breast_cancer": ("load_breast_cancer", {}),
    "diabetes": ("load_diabetes", {"scaled": False}),  # raw measurements, we standardise
}
NAMES = tuple(_LOADERS)


@dataclass
class Builtin:
    """A bundled data set as raw inputs (digits: images [N, 1, 8, 8] of 0..16) and targets."""

    name: str
    inputs: torch.Tensor
    targets: torch.Tensor  # int64 class indices, or float32 for diabetes
    task: Task
    class_names: list[str] | None
    feature_names: list[str] | None
    image_shape: list[int] | None


def is_builtin(path: str) -> bool:
    return path.startswith(PREFIX)


def builtin_name(path: str) -> str:
    name = path[len(PREFIX) :]
    if name not in _LOADERS:
        raise DataError(
            f"unknown builtin data set '{name}'; choose one of "
            + ", ".join(PREFIX + n for n in NAMES)
        )
    return name


def load_builtin(path: str) -> Builtin:
    from sklearn import datasets

    name = builtin_name(path)
    loader, kwargs = _LOADERS[name]
    bunch = getattr(datasets, loader)(**kwargs)
    if name == "digits":
        images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)).unsqueeze(1)
        names = [str(c) for c in bunch.target_names]
        targets = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
        return Builtin(name, images, targets, "classification", names, None, list(images.shape[1:]))
    inputs = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32))
    features = [str(f) for f in bunch.feature_names]
    if name == "diabetes":
        targets = torch.from_numpy(np.asarray(bunch.target, dtype=np.float32))
        return Builtin(name, inputs, targets, "regression", None, features, None)
    targets = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    names = [str(c) for c in bunch.target_names]
    return Builtin(name, inputs, targets, "classification", names, features, None)
