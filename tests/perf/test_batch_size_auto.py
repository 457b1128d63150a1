"""data.batch_size: auto: the search's decisions, and a real CPU run that finds its size by
measured throughput without touching the run's RNG stream or weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.train.batch_search import NoBatchFits, fastest, largest_fitting

IRIS: dict[str, Any] = {
    "model": {"architecture": "mlp", "hidden_sizes": [16]},
    "data": {"train_path": "builtin:iris", "batch_size": "auto"},
    "training": {"epochs": 2, "learning_rate": 0.01},
    "logging": {"progress_bar": "off", "tensorboard": False},
}


def test_largest_fitting_doubles_then_bisects() -> None:
    result = largest_fitting(lambda size: size <= 100, cap=1000, start=8)
    assert result.batch_size == 100
    sizes = [size for size, _ in result.trials]
    assert sizes[:6] == [8, 16, 32, 64, 128, 96]  # doubling up to the first failure, then halves
    assert [ok is not None for size, ok in result.trials] == [size <= 100 for size in sizes]
    assert largest_fitting(lambda size: True, cap=50, start=8).batch_size == 50  # the set's size
    with pytest.raises(NoBatchFits, match="does not fit"):
        largest_fitting(lambda size: False, cap=1000, start=8)


def test_fastest_stops_when_throughput_stops_improving() -> None:
    rates = {8: 100.0, 16: 190.0, 32: 300.0, 64: 310.0, 128: 900.0}
    result = fastest(rates.__getitem__, cap=1000)
    assert result.batch_size == 32  # 64 is within 5% of 32: stop, larger sizes never tried
    assert [size for size, _ in result.trials] == [8, 16, 32, 64]
    assert fastest(lambda size: float(size), cap=20).batch_size == 20  # capped by the set


def test_auto_on_cpu_is_recorded_and_leaves_the_run_as_configured(tmp_path: Path) -> None:
    auto = trainforge.fit(IRIS, output=tmp_path / "auto")
    saved = yaml.safe_load((auto.run_dir / "config.yaml").read_text())
    chosen = saved["data"]["batch_size"]
    assert isinstance(chosen, int) and 8 <= chosen <= 135  # iris: 135 training rows
    meta = json.loads((auto.run_dir / "metadata.json").read_text())
    search = meta["batch_size_search"]
    assert search["batch_size"] == chosen and search["method"] == "fastest samples/s"
    assert all(rate > 0 for _, rate in search["trials"])
    assert f"auto chose {chosen}" in (auto.run_dir / "logs" / "train.log").read_text()

    planned = trainforge.fit(
        {**IRIS, "data": {**IRIS["data"], "batch_size": chosen}}, output=tmp_path / "planned"
    )
    a = load_checkpoint(auto.checkpoints["last"])["model"]
    b = load_checkpoint(planned.checkpoints["last"])["model"]
    for name in b:
        assert torch.equal(a[name], b[name]), name


def test_a_resume_with_auto_keeps_the_size_the_first_run_chose(tmp_path: Path) -> None:
    first = trainforge.fit(IRIS, output=tmp_path / "run")
    chosen = yaml.safe_load((first.run_dir / "config.yaml").read_text())["data"]["batch_size"]
    more = {**IRIS, "training": {**IRIS["training"], "epochs": 3}}
    resumed = trainforge.fit(more, resume=first.checkpoints["last"], output=tmp_path / "run")
    assert resumed.status == "completed" and resumed.epochs_completed == 3
    saved = yaml.safe_load((resumed.run_dir / "config.yaml").read_text())
    assert saved["data"]["batch_size"] == chosen
