"""Each training feature switched on in a short real run on bundled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixtures import make_image_folder

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.errors import ConfigError

IRIS: dict[str, Any] = {
    "model": {"architecture": "mlp", "hidden_sizes": [16]},
    "data": {"train_path": "builtin:iris", "batch_size": 16},
    "training": {"epochs": 3, "learning_rate": 0.01},
    "logging": {"progress_bar": "off", "tensorboard": False, "log_every_n_steps": 1},
}


def records(run: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run / "logs" / "metrics.json").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


@pytest.mark.parametrize("kind", ["none", "step", "cosine", "plateau"])
def test_each_scheduler_drives_the_lr(tmp_path: Path, kind: str) -> None:
    sched = {
        "type": kind,
        "warmup_epochs": 1,
        "step_size": 1,
        "gamma": 0.5,
        "patience": 0,
        "min_lr": 0.0,
    }
    result = trainforge.fit({**IRIS, "lr_scheduler": sched}, output=tmp_path / kind)
    lrs = [r["lr"] for r in records(result.run_dir, "step")]
    steps_per_epoch = 9  # 135 training rows / 16
    assert lrs[0] == pytest.approx(0.01 / steps_per_epoch)  # warm-up starts low
    assert lrs[steps_per_epoch - 1] == pytest.approx(0.01)
    after = lrs[steps_per_epoch:]
    if kind == "none":
        assert all(v == pytest.approx(0.01) for v in after)
    elif kind == "step":
        assert after[-1] == pytest.approx(0.01 * 0.5**2)
    elif kind == "cosine":
        assert after[-1] < 0.001
    else:  # plateau: patience 0 lowers the LR whenever val_loss does not improve
        assert all(v <= 0.01 for v in after)


def test_bf16_on_cpu_label_smoothing_class_weights_max_steps(tmp_path: Path) -> None:
    cfg = {
        **IRIS,
        "training": {
            **IRIS["training"],
            "mixed_precision": True,
            "label_smoothing": 0.1,
            "class_weights": "auto",
            "max_steps": 5,
        },
    }
    result = trainforge.fit(cfg, output=tmp_path / "r")
    assert result.global_step == 5 and result.stop_reason == "max_steps"
    assert result.status == "completed"
    log = (result.run_dir / "logs" / "train.log").read_text()
    assert "bf16 autocast on CPU" in log
    assert "last" in result.checkpoints  # a run ending mid-epoch still leaves last.pth
    with pytest.raises(ConfigError, match="one weight per class"):
        trainforge.fit({**IRIS, "training": {"class_weights": [1.0, 2.0]}}, output=tmp_path / "bad")


def test_validation_every_n_steps_and_early_stopping(tmp_path: Path) -> None:
    cfg = {
        **IRIS,
        "training": {"epochs": 20, "val_every_n_steps": 4},
        "early_stopping": {"enabled": True, "patience": 2, "min_delta": 10.0},
    }
    result = trainforge.fit(cfg, output=tmp_path / "r")
    assert result.stop_reason == "early_stopping" and result.exit_code == 0
    vals = records(result.run_dir, "validation")
    assert len(vals) == 3  # the first sets the best, two more without improvement stop it
    assert vals[0]["step"] == 4 and vals[0].get("in_epoch") is True
    meta = json.loads((result.run_dir / "metadata.json").read_text())
    assert meta["early_stopped"] is True and meta["status"] == "completed"


def test_regression_on_diabetes(tmp_path: Path) -> None:
    cfg = {
        "model": {"architecture": "mlp"},
        "data": {"train_path": "builtin:diabetes"},
        "training": {"epochs": 2},
        "checkpointing": {"monitor": "val_mae"},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    result = trainforge.fit(cfg, output=tmp_path / "r")
    assert {"val_mse", "val_mae", "val_r2"} <= set(result.final_metrics)
    assert result.best_metric == "val_mae"
    with pytest.raises(ConfigError, match="not a metric of this run"):
        trainforge.fit({**cfg, "checkpointing": {"monitor": "val_accuracy"}}, output=tmp_path / "x")


def test_image_folder_with_augmentation_and_workers(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", n_per_class=6, size=16)
    cfg = {
        "model": {"architecture": "simple_cnn", "channels": [8]},
        "data": {
            "train_path": str(root),
            "batch_size": 8,
            "num_workers": 2,
            "persistent_workers": True,
            "augmentation": {"random_flip": True, "random_crop": True, "normalize": "imagenet"},
        },
        "training": {"epochs": 2},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    result = trainforge.fit(cfg, output=tmp_path / "r")
    assert result.status == "completed"
    spec = load_checkpoint(result.checkpoints["last"])["input_spec"]
    assert spec["kind"] == "image" and spec["shape"][0] == 3


def test_pretrained_checkpoint_is_recorded_as_parent(tmp_path: Path) -> None:
    first = trainforge.fit(IRIS, output=tmp_path / "parent")
    child_cfg = {**IRIS, "model": {**IRIS["model"], "pretrained": str(first.checkpoints["best"])}}
    child = trainforge.fit(child_cfg, output=tmp_path / "child")
    parent_run = json.loads((first.run_dir / "metadata.json").read_text())["run_id"]
    meta = json.loads((child.run_dir / "metadata.json").read_text())
    assert meta["parent"]["run_id"] == parent_run
    lineage = load_checkpoint(child.checkpoints["last"])["lineage"]
    assert lineage["parent"]["path"] == str(first.checkpoints["best"])
    assert lineage["data_hash"]


def test_wandb_offline_and_deterministic_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = {
        **IRIS,
        "logging": {**IRIS["logging"], "wandb": {"enabled": True, "project": "t"}},
        "reproducibility": {"deterministic": "strict"},
    }
    result = trainforge.fit(cfg, output=tmp_path / "r")
    assert result.status == "completed"
    assert list((result.run_dir / "wandb").glob("offline-run-*"))
