"""A user's own torch Datasets: from ``data.source: "package.module:function"`` or the Python API.

Items must be ``(input, target)``. Their transforms run as they are, but any torch
randomness in them is seeded from (seed, epoch, index) on a forked global RNG, so it is
reproducible, resumable and leaves the training RNG stream alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from trainforge.data.seeding import derive_seed
from trainforge.data.spec import InputSpec, Task
from trainforge.errors import DataError

UserDatasets = tuple[Dataset[Any], Dataset[Any] | None, Dataset[Any] | None]


def load_source(source: str) -> UserDatasets:
    """Call ``package.module:function`` and check it returned (train, val[, test])."""
    module_name, _, func_name = source.partition(":")
    if not module_name or not func_name:
        raise DataError(
            f"data.source '{source}' is not 'package.module:function'; write it in that form"
        )
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(
            f"data.source '{source}' cannot be imported ({exc}); check the module is on "
            "PYTHONPATH and defines that function"
        ) from None
    result = func()
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise DataError(
            f"data.source '{source}' returned {type(result).__name__}; "
            "it must return (train, val) or (train, val, test) datasets"
        )
    parts = list(result) + [None] * (3 - len(result))
    for name, ds in zip(("train", "val", "test"), parts, strict=True):
        if ds is not None and not _is_dataset(ds):
            raise DataError(
                f"data.source '{source}': its {name} is a {type(ds).__name__}, not a dataset "
                "with __getitem__ and __len__"
            )
    if parts[0] is None:
        raise DataError(f"data.source '{source}' returned no training dataset")
    return parts[0], parts[1], parts[2]


def _is_dataset(obj: object) -> bool:
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__")


def as_input(value: Any) -> torch.Tensor:
    x = torch.as_tensor(value)
    return x if x.is_floating_point() else x.to(torch.float32)


def as_target(value: Any, task: Task) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.int64 if task == "classification" else torch.float32)


@contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Run a user's code with the global CPU generator seeded, then restore it."""
    state = torch.get_rng_state()
    # the CPU generator only: torch.manual_seed would also reseed CUDA's dropout stream
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(state)


def read_item(ds: Dataset[Any], index: int, *seed_parts: int | str) -> Any:
    """``ds[index]`` with its torch randomness drawn from ``seed_parts`` alone."""
    with isolated_rng(derive_seed(*seed_parts)):
        return ds[index]


def _first_item(ds: Dataset[Any], name: str) -> tuple[Any, Any]:
    if len(ds) == 0:  # type: ignore[arg-type]
        raise DataError(f"the {name} dataset is empty; it needs samples")
    item = read_item(ds, 0, "inspect")
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DataError(
            f"items of the {name} dataset must be (input, target) pairs; got {type(item).__name__}"
        )
    return item[0], item[1]


def dataset_targets(ds: Dataset[Any]) -> np.ndarray:
    """All targets, from a ``targets`` attribute or tensors when there is one, else by reading."""
    if isinstance(ds, Subset):
        return dataset_targets(ds.dataset)[np.asarray(ds.indices)]
    if isinstance(ds, TensorDataset):
        return ds.tensors[-1].numpy()
    targets = getattr(ds, "targets", None)
    if targets is not None:
        return np.asarray(targets)
    count = len(ds)  # type: ignore[arg-type]
    return np.array([np.asarray(read_item(ds, i, "inspect")[1]) for i in range(count)])


def custom_spec(
    train: Dataset[Any], requested_task: str, num_classes: int | None
) -> tuple[InputSpec, np.ndarray]:
    """The spec of a user's dataset (from its first item and targets) and its targets."""
    x, _ = _first_item(train, "training")
    shape = list(as_input(x).shape)
    if len(shape) not in (1, 3):
        raise DataError(
            f"training inputs have shape {shape}; trainforge models take [features] or "
            "[channels, height, width] per sample"
        )
    targets = dataset_targets(train).reshape(-1)
    task = _custom_task(targets, requested_task)
    names = _custom_classes(train, targets, num_classes) if task == "classification" else None
    spec = InputSpec(
        kind="image" if len(shape) == 3 else "tabular",
        shape=shape,
        task=task,
        num_classes=len(names) if names is not None else None,
        class_names=names,
        feature_names=None,
        source_format="custom",
        target_column=None,
        preprocessing={},
    )
    return spec, targets


def _custom_task(targets: np.ndarray, requested: str) -> Task:
    if requested in ("classification", "regression"):
        return requested  # type: ignore[return-value]
    return "regression" if np.issubdtype(targets.dtype, np.floating) else "classification"


def _custom_classes(ds: Dataset[Any], targets: np.ndarray, num_classes: int | None) -> list[str]:
    found = int(targets.max()) + 1 if targets.size else 0
    if targets.size and targets.min() < 0:
        raise DataError("training targets must be class indices 0..K-1; found a negative label")
    if num_classes is not None and found > num_classes:
        raise DataError(
            f"training labels go up to {found - 1}, outside 0..{num_classes - 1} "
            f"(model.num_classes is {num_classes}); fix the labels or model.num_classes"
        )
    count = num_classes or found
    given: Sequence[Any] | None = getattr(ds, "classes", None)
    if given is not None and len(given) == count:
        return [str(c) for c in given]
    return [str(i) for i in range(count)]


class UserItems(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A user's dataset addressed by (epoch, index), with its torch randomness seeded per item."""

    def __init__(self, dataset: Dataset[Any], task: Task, seed: int) -> None:
        self.dataset = dataset
        self.task = task
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        epoch, index = key
        x, y = read_item(self.dataset, index, self.seed, "item", epoch, index)
        return as_input(x), as_target(y, self.task)
