"""Small real data sets on disk for everyone's tests (plain functions; each well under 1 s).

All of them come from scikit-learn's bundled data (no network): the 8x8 digits, iris, wine,
breast_cancer and diabetes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn import datasets as sk

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = sk.load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


def _digits_frame(images: np.ndarray, labels: np.ndarray, with_names: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        images.reshape(len(images), -1).astype(np.int64),
        columns=[f"pixel{i}" for i in range(64)],
    )
    frame["label"] = [DIGIT_NAMES[y] for y in labels] if with_names else labels
    return frame


def make_digits_csv(path: str | Path, n: int | None = None, with_names: bool = False) -> Path:
    """Kaggle-MNIST layout: pixel0..pixel63 (values 0..16) and ``label``.

    ``n`` keeps the first n rows; ``with_names`` writes labels as words ("zero".."nine").
    """
    images, labels = _digits()
    if n is not None:
        images, labels = images[:n], labels[:n]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _digits_frame(images, labels, with_names).to_csv(path, index=False)
    return path


def make_train_val_csvs(directory: str | Path, val_fraction: float = 0.2) -> tuple[Path, Path]:
    """``directory/train.csv`` and ``directory/val.csv``: the digits split (every 5th row to val)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = _digits()
    step = max(2, round(1 / val_fraction))
    is_val = np.arange(len(labels)) % step == 0
    train, val = directory / "train.csv", directory / "val.csv"
    _digits_frame(images[~is_val], labels[~is_val], False).to_csv(train, index=False)
    _digits_frame(images[is_val], labels[is_val], False).to_csv(val, index=False)
    return train, val


_TABULAR = {
    "iris": sk.load_iris,
    "wine": sk.load_wine,
    "breast_cancer": sk.load_breast_cancer,
    "diabetes": sk.load_diabetes,
}


def make_tabular_csv(
    path: str | Path, dataset: str = "iris", string_labels: bool = True, n: int | None = None
) -> Path:
    """Features under scikit-learn's names plus ``label`` (class names, or class numbers).

    ``diabetes`` gives a regression target (floats) in ``label``.
    """
    bunch = _TABULAR[dataset]()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    target = np.asarray(bunch.target)
    if dataset == "diabetes":
        frame["label"] = target.astype(np.float64) + 0.5  # never integral: reads as regression
    elif string_labels:
        frame["label"] = [str(bunch.target_names[t]) for t in target]
    else:
        frame["label"] = target
    if n is not None:
        frame = frame.iloc[:n]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def make_image_folder(
    root: str | Path,
    n_per_class: int = 8,
    size: int | tuple[int, int] = 16,
    grayscale: bool = False,
    classes: Sequence[str | int] | None = None,
) -> Path:
    """``root/<class>/NNN.png``: real digits upscaled to ``size`` (int or (height, width)).

    ``classes`` defaults to "0".."9"; a digit name uses that digit's images, any other
    name the images of digit (its position mod 10). RGB images are tinted so the three
    channels differ; ``grayscale`` writes mode-L files.
    """
    images, labels = _digits()
    names = [str(c) for c in (classes if classes is not None else range(10))]
    height, width = (size, size) if isinstance(size, int) else size
    root = Path(root)
    for position, name in enumerate(names):
        digit = int(name) % 10 if name.isdigit() else position % 10
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(images[labels == digit][:n_per_class]):
            gray = Image.fromarray((image * (255 / 16)).astype(np.uint8), mode="L")
            gray = gray.resize((width, height), Image.Resampling.BILINEAR)
            if grayscale:
                gray.save(folder / f"{k:03d}.png")
                continue
            g = np.asarray(gray, dtype=np.uint16)
            rgb = np.stack([g, g // 2 + 64, 255 - g], axis=-1).astype(np.uint8)
            Image.fromarray(rgb, mode="RGB").save(folder / f"{k:03d}.png")
    return root
