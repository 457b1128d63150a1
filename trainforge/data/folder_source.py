"""Image folders: files listed and checked up front, read lazily by DataLoader workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainforge.data.batches import LoaderBatches
from trainforge.data.bundle import (
    BuildContext,
    DataBundle,
    class_counts,
    loader_batches,
    make_augmentation,
)
from trainforge.data.images import (
    ImageFiles,
    decide_mode,
    decide_size,
    list_class_folder,
    resize_hw,
    scaled_batches,
    scan_headers,
    stats_sample,
)
from trainforge.data.labels import fit_num_classes
from trainforge.data.preprocess import build_preprocess, image_preprocessing, normalisation
from trainforge.data.raw import EIGHT_BIT
from trainforge.data.spec import InputSpec
from trainforge.data.split import files_hash, index_split_hash, split_indices
from trainforge.errors import DataError


def build_image_folder(ctx: BuildContext) -> DataBundle:
    cfg = ctx.cfg
    if cfg.task == "regression":
        raise DataError(
            "data.task is regression but data.train_path is an image folder, whose subfolders "
            "are classes; use a CSV for regression or set data.task: auto"
        )
    listing = list_class_folder(Path(cfg.train_path or ""), "data.train_path")
    classes = listing.classes or []
    if ctx.num_classes is not None:
        classes, notices = fit_num_classes(classes, ctx.num_classes, "data.train_path")
        ctx.notices += notices
    paths, labels = listing.paths, np.asarray(listing.labels, dtype=np.int64)

    if cfg.val_path:
        val_list = list_class_folder(Path(cfg.val_path), "data.val_path", classes)
        train_paths, train_labels = paths, labels
        val_paths, val_labels = val_list.paths, val_list.labels or []
        split_hash = files_hash([cfg.train_path or "", cfg.val_path])
    else:
        train_rows, val_rows = split_indices(len(paths), cfg.val_split, cfg.split_seed, labels)
        train_paths, train_labels = [paths[i] for i in train_rows], labels[train_rows]
        val_paths, val_labels = [paths[i] for i in val_rows], labels[val_rows].tolist()
        split_hash = index_split_hash(len(paths), val_rows.tolist())
    test_paths: list[str] = []
    test_labels: list[int] = []
    if cfg.test_path:
        test_list = list_class_folder(Path(cfg.test_path), "data.test_path", classes)
        test_paths, test_labels = test_list.paths, test_list.labels or []

    spec = folder_spec(ctx, train_paths, classes)
    scan_headers(val_paths + test_paths)  # unreadable files fail now, not mid-run
    mode = "L" if spec.shape[0] == 1 else "RGB"
    hw = (spec.shape[1], spec.shape[2])
    preprocess = build_preprocess(spec)

    def batches(files: list[str], targets: list[int], train: bool) -> LoaderBatches:
        augmentation = make_augmentation(ctx, spec, len(files)) if train else None
        items = ImageFiles(files, targets, mode, hw, preprocess, augmentation)
        return loader_batches(ctx, items, len(files), train=train)

    train = batches(train_paths, train_labels.tolist(), True)
    val = batches(val_paths, list(val_labels), False)
    test = batches(test_paths, test_labels, False) if cfg.test_path else None
    counts = class_counts(train_labels, spec)
    return DataBundle(spec, train, val, test, split_hash, counts, ctx.notices)


def folder_spec(ctx: BuildContext, train_paths: list[str], classes: list[str]) -> InputSpec:
    """Channels and size from the training files' headers; statistics from their pixels."""
    aug = ctx.cfg.augmentation
    headers = scan_headers(train_paths)
    mode = decide_mode([m for m, _ in headers])
    resize = resize_hw(aug.resize)
    hw, notices = decide_size([size for _, size in headers], resize)
    channels = 1 if mode == "L" else 3
    sample = [train_paths[i] for i in stats_sample(len(train_paths), ctx.cfg.split_seed)]
    images = scaled_batches(sample, mode, hw, EIGHT_BIT)
    mean, std, stat_notices = normalisation(aug.normalize, channels, images)
    ctx.notices += notices + stat_notices
    shape = [channels, hw[0], hw[1]]
    return InputSpec(
        kind="image",
        shape=shape,
        task="classification",
        num_classes=len(classes),
        class_names=classes,
        feature_names=None,
        source_format="image_folder",
        target_column=None,
        preprocessing=image_preprocessing(
            layout="nchw",
            shape=shape,
            resize=resize,
            pixel_scale=EIGHT_BIT,
            normalize=aug.normalize,
            mean=mean,
            std=std,
        ),
    )
