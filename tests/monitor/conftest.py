"""Real training runs shared by the monitor's tests (each a few seconds on CPU).

- ``healthy_run``: an MLP on the digits CSVs (1437 train / 360 val rows), 6 epochs.
- ``overfit_run``: a wide MLP on only 60 training rows, 40 epochs: train accuracy reaches
  100% while validation stays far below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import make_digits_csv, make_train_val_csvs
from monitor_testing import digits_config

import trainforge


@pytest.fixture(scope="session")
def digits_csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_train_val_csvs(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def healthy_run(tmp_path_factory: pytest.TempPathFactory, digits_csvs: tuple[Path, Path]) -> Path:
    train, val = digits_csvs
    out = tmp_path_factory.mktemp("runs") / "healthy"
    result = trainforge.fit(digits_config(train, val), output=out)
    assert result.status == "completed"
    return out


@pytest.fixture(scope="session")
def overfit_run(tmp_path_factory: pytest.TempPathFactory, digits_csvs: tuple[Path, Path]) -> Path:
    folder = tmp_path_factory.mktemp("small")
    train = make_digits_csv(folder / "train60.csv", n=60)
    cfg = digits_config(train, digits_csvs[1], epochs=40, learning_rate=0.002)
    cfg["model"] = {"architecture": "mlp", "hidden_sizes": [512, 512]}
    cfg["data"]["batch_size"] = 16
    out = tmp_path_factory.mktemp("runs") / "overfit"
    result = trainforge.fit(cfg, output=out)
    assert result.status == "completed"
    return out
