"""What build_data returns, and the settings every source shares while building it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from trainforge.config.schema import DataConfig
from trainforge.data.augment import Augmentation
from trainforge.data.batches import Batches, LoaderBatches
from trainforge.data.preprocess import preprocessed_zero
from trainforge.data.spec import InputSpec
from trainforge.data.workers import LoaderOptions


@dataclass
class DataBundle:
    """Training, validation and test batches, with the spec the model is built from."""

    spec: InputSpec
    train: Batches
    val: Batches | None
    test: Batches | None
    split_hash: str
    class_counts: list[int] | None
    notices: list[str] = field(default_factory=list)


@dataclass
class BuildContext:
    cfg: DataConfig
    seed: int
    options: LoaderOptions
    num_classes: int | None
    notices: list[str]
    # The training batches are sharded over data-parallel ranks; validation/test are not.
    rank: int = 0
    world_size: int = 1


def loader_batches(ctx: BuildContext, items: Dataset[Any], n: int, *, train: bool) -> LoaderBatches:
    """Sample-by-sample batches with the config's loader settings; only training data is
    shuffled, cut at drop_last and sharded over data-parallel ranks."""
    cfg = ctx.cfg
    return LoaderBatches(
        items,
        n,
        batch_size=cfg.batch if train else cfg.eval_batch,
        options=ctx.options,
        seed=ctx.seed,
        shuffle=train and cfg.shuffle,
        drop_last=train and cfg.drop_last,
        rank=ctx.rank if train else 0,
        world_size=ctx.world_size if train else 1,
    )


def make_augmentation(ctx: BuildContext, spec: InputSpec, num_samples: int) -> Augmentation | None:
    """The training augmentation, or None; flags that cannot apply become notices."""
    aug = ctx.cfg.augmentation
    if not (aug.random_flip or aug.random_crop):
        return None
    if spec.kind != "image":
        ctx.notices.append(
            "augmentation.random_flip/random_crop apply to images; ignored for tabular data"
        )
        return None
    if spec.source_format == "custom":
        ctx.notices.append(
            "augmentation.random_flip/random_crop apply to trainforge's own sources; "
            "a custom dataset applies its own transforms"
        )
        return None
    fill = tuple(preprocessed_zero(spec))
    return Augmentation(aug.random_flip, aug.random_crop, fill, ctx.seed, num_samples)


def class_counts(train_labels: np.ndarray, spec: InputSpec) -> list[int] | None:
    """Training samples per class (for class_weights: auto); None for regression."""
    if spec.task != "classification" or spec.num_classes is None:
        return None
    counts = np.bincount(train_labels.astype(np.int64), minlength=spec.num_classes)
    return [int(c) for c in counts]
