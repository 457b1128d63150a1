"""CSV files, pixel CSVs and builtin data sets: held in memory, batched by slicing.

Everything is preprocessed once, up front, by the same module that evaluation and export
use; an epoch is then just index slicing, with no per-sample Python or collation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from trainforge.data.batches import TensorBatches
from trainforge.data.builtin import DIGITS_PIXEL_SCALE, load_builtin
from trainforge.data.bundle import BuildContext, DataBundle, class_counts, make_augmentation
from trainforge.data.labels import (
    decide_task,
    fit_num_classes,
    regression_targets,
    training_classes,
)
from trainforge.data.preprocess import (
    apply_preprocess,
    build_preprocess,
    image_preprocessing,
    normalisation,
    pixel_scale_for,
    standardisation,
)
from trainforge.data.raw import read_raw
from trainforge.data.spec import InputSpec, Task
from trainforge.data.split import files_hash, index_split_hash, split_indices
from trainforge.data.tables import read_training_csv
from trainforge.errors import DataError

WHERE = "data.train_path"


@dataclass
class TrainingTable:
    """The whole training source as raw inputs and encoded targets, before any split."""

    inputs: torch.Tensor
    targets: torch.Tensor
    task: Task
    class_names: list[str] | None
    feature_names: list[str] | None
    target_column: str | None
    source_format: str
    image_shape: list[int] | None = None  # [C, H, W] for image data
    layout: Literal["flat", "nchw"] = "nchw"
    pixel_scale: float | None = None  # fixed by the source (digits), else decided from data
    notices: list[str] = field(default_factory=list)


def load_training_table(ctx: BuildContext, kind: str) -> TrainingTable:
    path = ctx.cfg.train_path or ""
    if kind == "builtin":
        return _builtin_table(path, ctx.cfg.task, ctx.num_classes)
    table = read_training_csv(path, ctx.cfg.target_column, ctx.cfg.image_size, WHERE)
    assert table.target is not None  # the training reader always returns the target column
    task = decide_task(table.target, ctx.cfg.task)
    names: list[str] | None = None
    notices: list[str] = []
    if task == "classification":
        names, indices, notices = training_classes(table.target, ctx.num_classes, WHERE)
        targets = torch.from_numpy(indices)
    else:
        targets = torch.from_numpy(regression_targets(table.target, WHERE))
    hw = table.image_hw
    return TrainingTable(
        table.inputs,
        targets,
        task,
        names,
        table.feature_names,
        table.target_column,
        "csv" if hw is None else "csv_pixels",
        image_shape=None if hw is None else [1, *hw],
        layout="nchw" if hw is None else "flat",
        notices=notices,
    )


def _builtin_table(path: str, requested: str, num_classes: int | None) -> TrainingTable:
    data = load_builtin(path)
    if requested not in ("auto", data.task):
        raise DataError(
            f"{WHERE}: {path} is a {data.task} data set but data.task is {requested}; "
            "set data.task: auto"
        )
    names = data.class_names
    notices: list[str] = []
    if names is not None and num_classes is not None:
        names, notices = fit_num_classes(names, num_classes, WHERE)
    is_image = data.image_shape is not None
    return TrainingTable(
        data.inputs,
        data.targets,
        data.task,
        names,
        data.feature_names,
        None if is_image else "target",
        "builtin",
        image_shape=data.image_shape,
        pixel_scale=DIGITS_PIXEL_SCALE if is_image else None,
        notices=notices,
    )


def table_spec(
    data: TrainingTable, train_rows: torch.Tensor, normalize: str
) -> tuple[InputSpec, list[str]]:
    """The spec, with statistics from the training rows only (validation stays unseen)."""
    train_raw = data.inputs[train_rows]
    notices: list[str] = []
    if data.image_shape is None:
        mean, std = standardisation(train_raw)
        shape = [int(data.inputs.shape[1])]
        preprocessing: dict[str, object] = {"mean": mean, "std": std}
    else:
        shape = list(data.image_shape)
        scale = data.pixel_scale or pixel_scale_for(float(train_raw.max()))
        images = train_raw.reshape(-1, *shape) * scale
        mean, std, notices = normalisation(normalize, shape[0], [images])
        preprocessing = image_preprocessing(
            layout=data.layout,
            shape=shape,
            resize=None,
            pixel_scale=scale,
            normalize=normalize,
            mean=mean,
            std=std,
        )
    spec = InputSpec(
        kind="tabular" if data.image_shape is None else "image",
        shape=shape,
        task=data.task,
        num_classes=len(data.class_names) if data.class_names is not None else None,
        class_names=data.class_names,
        feature_names=data.feature_names,
        source_format=data.source_format,
        target_column=data.target_column,
        preprocessing=preprocessing,
    )
    return spec, notices


def build_in_memory(ctx: BuildContext, kind: str) -> DataBundle:
    cfg = ctx.cfg
    data = load_training_table(ctx, kind)
    ctx.notices += data.notices
    n = int(data.inputs.shape[0])
    val_rows: np.ndarray | None = None
    if cfg.val_path:
        train_rows = np.arange(n)
    else:
        labels = data.targets.numpy() if data.task == "classification" else None
        train_rows, val_rows = split_indices(n, cfg.val_split, cfg.split_seed, labels)
    train_index = torch.from_numpy(train_rows)
    spec, notices = table_spec(data, train_index, cfg.augmentation.normalize)
    ctx.notices += notices + _ignored_settings(ctx)
    module = build_preprocess(spec)
    inputs = apply_preprocess(module, data.inputs)
    pin = ctx.options.pin_memory
    train = TensorBatches(
        inputs[train_index],
        data.targets[train_index],
        batch_size=cfg.batch,
        seed=ctx.seed,
        shuffle=cfg.shuffle,
        drop_last=cfg.drop_last,
        augmentation=make_augmentation(ctx, spec, len(train_rows)),
        pin_memory=pin,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    if val_rows is not None:
        val_index = torch.from_numpy(val_rows)
        val = TensorBatches(
            inputs[val_index], data.targets[val_index], batch_size=cfg.eval_batch, pin_memory=pin
        )
        split_hash = index_split_hash(n, val_rows.tolist())
    else:
        val = _file_batches(ctx, cfg.val_path or "", spec, "data.val_path")
        split_hash = files_hash([cfg.train_path or "", cfg.val_path or ""])
    test = _file_batches(ctx, cfg.test_path, spec, "data.test_path") if cfg.test_path else None
    counts = class_counts(data.targets[train_index].numpy(), spec)
    return DataBundle(spec, train, val, test, split_hash, counts, ctx.notices)


def _file_batches(ctx: BuildContext, path: str, spec: InputSpec, where: str) -> TensorBatches:
    raw, targets = read_raw(path, spec, where=where, require_targets=True)
    assert targets is not None  # require_targets=True guarantees them
    module = build_preprocess(spec)
    return TensorBatches(
        apply_preprocess(module, raw),
        targets,
        batch_size=ctx.cfg.eval_batch,
        pin_memory=ctx.options.pin_memory,
    )


def _ignored_settings(ctx: BuildContext) -> list[str]:
    notices = []
    if ctx.options.num_workers > 0:
        notices.append(
            "data.num_workers: in-memory data (CSV, builtin) is batched in the main process; "
            "no worker processes are started"
        )
    if ctx.cfg.augmentation.resize is not None:
        notices.append("augmentation.resize applies to image folders; ignored for this data")
    return notices
