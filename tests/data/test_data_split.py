"""The train/validation split: stratified, stable across training seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_testing import build, stacked
from fixtures import make_image_folder

from trainforge.data.split import index_split_hash, split_indices


def test_split_is_stratified() -> None:
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = split_indices(100, 0.2, 0, labels)
    assert len(val) == 20 and len(train) == 80
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]
    assert not set(train) & set(val)


def test_split_keeps_a_training_sample_of_every_class() -> None:
    labels = np.array([0] * 10 + [1])
    train, _ = split_indices(11, 0.5, 0, labels)
    assert 10 in train


def test_split_same_across_training_seeds_and_changes_with_split_seed() -> None:
    a = build("builtin:iris", seed=1)
    b = build("builtin:iris", seed=2)
    c = build("builtin:iris", seed=1, split_seed=5)
    assert a.split_hash == b.split_hash != c.split_hash
    assert a.val is not None and b.val is not None
    xa, ya = stacked(a.val)
    xb, yb = stacked(b.val)
    assert (xa == xb).all() and (ya == yb).all()
    assert np.bincount(ya.numpy()).tolist() == [5, 5, 5]


def test_image_folder_split_stable_across_seeds(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "i", n_per_class=10, classes=["0", "1"])
    assert build(root, seed=1).split_hash == build(root, seed=9).split_hash
    assert build(root, split_seed=1).split_hash != build(root, split_seed=2).split_hash


def test_split_hash_is_of_indices_and_size() -> None:
    assert index_split_hash(10, [3, 1]) == index_split_hash(10, [1, 3])
    assert index_split_hash(10, [1, 3]) != index_split_hash(11, [1, 3])


def test_regression_split_is_random_but_fixed() -> None:
    a = build("builtin:diabetes", split_seed=3)
    assert a.split_hash == build("builtin:diabetes", split_seed=3, seed=8).split_hash
    assert a.val is not None and a.val.num_samples == 44


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_split_sizes(fraction: float) -> None:
    labels = np.arange(200) % 4
    train, val = split_indices(200, fraction, 0, labels)
    assert len(val) == round(200 * fraction) and len(train) + len(val) == 200
