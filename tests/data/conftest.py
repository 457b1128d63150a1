"""Data files for the data-layer tests (built from scikit-learn's bundled data, in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import make_digits_csv, make_image_folder, make_tabular_csv


@pytest.fixture
def digits_csv(tmp_path: Path) -> Path:
    return make_digits_csv(tmp_path / "digits.csv", n=400)


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    return make_tabular_csv(tmp_path / "iris.csv", "iris")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "images", n_per_class=6, classes=["0", "1", "2", "3"])
