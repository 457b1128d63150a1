"""build_data: the config's data section (or a user's datasets) → a DataBundle."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from trainforge.config.schema import DataConfig
from trainforge.data.batches import LoaderBatches
from trainforge.data.bundle import (
    BuildContext,
    DataBundle,
    class_counts,
    loader_batches,
    make_augmentation,
)
from trainforge.data.custom import UserItems, custom_spec, load_source
from trainforge.data.folder_source import build_image_folder
from trainforge.data.memory_source import build_in_memory
from trainforge.data.raw import source_kind
from trainforge.data.split import index_split_hash, split_indices
from trainforge.data.workers import resolve_loader_options
from trainforge.errors import DataError


def build_data(
    cfg: DataConfig,
    *,
    seed: int,
    device: torch.device | str,
    train_data: Dataset[Any] | None = None,
    val_data: Dataset[Any] | None = None,
    num_classes: int | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> DataBundle:
    """Training, validation and test batches for ``cfg``; bad data fails here, before training.

    ``seed`` is the training seed (epoch order, augmentation); the train/validation split
    uses ``cfg.split_seed`` only. ``num_classes`` (model.num_classes) is checked against the
    labels. ``train_data``/``val_data`` are a user's datasets and replace the configured paths.
    ``rank``/``world_size`` shard each epoch of the training batches for data-parallel runs
    (every rank gets as many batches; validation and test batches stay whole).
    """
    device_type = torch.device(device).type
    options, notices = resolve_loader_options(
        cfg.num_workers,
        cfg.pin_memory,
        cfg.persistent_workers,
        device_type=device_type,
        cpu_count=os.cpu_count(),
    )
    ctx = BuildContext(cfg, seed, options, num_classes, notices, rank, world_size)
    if train_data is not None:
        if cfg.train_path or cfg.source:
            notices.append("train_data was passed in; data.train_path/data.source are not used")
        return build_from_datasets(ctx, train_data, val_data, None, origin="python")
    if val_data is not None:
        raise DataError("val_data was passed without train_data; pass both datasets")
    if cfg.source:
        train, val, test = load_source(cfg.source)
        return build_from_datasets(ctx, train, val, test, origin=cfg.source)
    if not cfg.train_path:
        raise DataError("no training data: set data.train_path (or data.source)")
    kind = source_kind(cfg.train_path, "data.train_path")
    if kind == "image_file":
        raise DataError(
            f"data.train_path: {cfg.train_path} is one image; give an image folder "
            "<root>/<class>/*.png or a CSV file"
        )
    if kind == "image_folder":
        return build_image_folder(ctx)
    return build_in_memory(ctx, kind)


def build_from_datasets(
    ctx: BuildContext,
    train: Dataset[Any],
    val: Dataset[Any] | None,
    test: Dataset[Any] | None,
    *,
    origin: str,
) -> DataBundle:
    """A user's datasets, read through DataLoader; without ``val``, val_split is held out."""
    cfg = ctx.cfg
    spec, targets = custom_spec(train, cfg.task, ctx.num_classes)
    make_augmentation(ctx, spec, 0)  # only for its notice: user datasets bring their own
    n = len(targets)
    if val is None:
        labels = targets if spec.task == "classification" else None
        train_rows, val_rows = split_indices(n, cfg.val_split, cfg.split_seed, labels)
        train, val = Subset(train, train_rows.tolist()), Subset(train, val_rows.tolist())
        targets = targets[train_rows]
        split_hash = index_split_hash(n, val_rows.tolist())
    else:
        text = f"{origin};train={n};val={len(val)}"  # type: ignore[arg-type]
        split_hash = hashlib.sha256(text.encode()).hexdigest()

    def batches(ds: Dataset[Any], is_train: bool) -> LoaderBatches:
        items = UserItems(ds, spec.task, ctx.seed)
        return loader_batches(ctx, items, len(ds), train=is_train)  # type: ignore[arg-type]

    counts = class_counts(np.asarray(targets), spec)
    return DataBundle(
        spec,
        batches(train, True),
        batches(val, False),
        batches(test, False) if test is not None else None,
        split_hash,
        counts,
        ctx.notices,
    )
