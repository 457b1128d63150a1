"""End-to-end training runs on real bundled data: the run folder, determinism, the Python API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.errors import ConfigError
from trainforge.train.hooks import Hook, RunState

DIGITS: dict[str, Any] = {
    "model": {"architecture": "simple_cnn", "channels": [8, 16]},
    "data": {"train_path": "builtin:digits", "batch_size": 64},
    "training": {"epochs": 2, "learning_rate": 0.003},
    "checkpointing": {
        "monitor": ["val_accuracy", "val_loss"],
        "keep_top_k": 1,
        "save_every_n_epochs": 1,
    },
    "logging": {"log_every_n_steps": 5, "progress_bar": "off"},
    "reproducibility": {"seed": 3, "deterministic": True},
}


def read_records(run: Path) -> list[dict[str, Any]]:
    lines = (run / "logs" / "metrics.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_run_folder_is_complete(tmp_path: Path) -> None:
    result = trainforge.fit(DIGITS, output=tmp_path / "run")
    run = result.run_dir
    assert result.status == "completed" and result.exit_code == 0
    assert result.epochs_completed == 2
    names = {p.name for p in (run / "checkpoints").iterdir()}
    assert {"best.pth", "best_val_loss.pth", "last.pth", "epoch_001.pth", "epoch_002.pth"} <= names
    assert len([n for n in names if "-val_accuracy=" in n]) == 1  # keep_top_k: 1
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["seed"] == 3
    for key in (
        "command",
        "versions",
        "system",
        "start_time",
        "end_time",
        "duration_s",
        "best_metric",
        "run_id",
        "num_threads",
    ):
        assert key in meta, key
    assert "torch==" in (run / "requirements.txt").read_text()
    resolved = (run / "config.yaml").read_text()
    assert "num_classes: 10" in resolved  # inferred from the data and written back
    records = read_records(run)
    assert all("type" in r and r["schema_version"] == 1 for r in records)
    kinds = {r["type"] for r in records}
    assert {"step", "epoch", "validation", "event"} <= kinds
    val = [r for r in records if r["type"] == "validation"]
    assert len(val) == 2 and len(val[-1]["confusion_matrix"]) == 10
    assert {"val_loss", "val_accuracy", "val_f1", "val_top5_accuracy"} <= set(val[-1]["metrics"])
    step = next(r for r in records if r["type"] == "step")
    assert {"loss", "lr", "grad_norm", "samples_per_sec", "data_wait"} <= set(step)
    assert (run / "logs" / "train.log").read_text().count("val_accuracy") >= 2

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "logs" / "tensorboard"))
    acc.Reload()
    assert len(acc.Scalars("val_accuracy")) == 2
    assert [e.step for e in acc.Scalars("step/loss")] == [
        s["step"] for s in records if s["type"] == "step"
    ]

    ckpt = load_checkpoint(run / "checkpoints" / "last.pth")
    assert ckpt["trainer"]["epoch"] == 2 and ckpt["input_spec"]["shape"] == [1, 8, 8]
    assert ckpt["config"]["model"]["num_classes"] == 10
    raw = torch.load(run / "checkpoints" / "best.pth", weights_only=True)
    assert raw["format_version"] >= 1 and raw["lineage"]["run_id"] == meta["run_id"]


def test_same_seed_same_weights_and_metrics(tmp_path: Path) -> None:
    config = {
        **DIGITS,
        "model": {"architecture": "simple_cnn", "channels": [8, 16], "dropout": 0.2},
    }
    a = trainforge.fit(config, output=tmp_path / "a")
    b = trainforge.fit(config, output=tmp_path / "b")
    wa = load_checkpoint(a.run_dir / "checkpoints" / "last.pth")["model"]
    wb = load_checkpoint(b.run_dir / "checkpoints" / "last.pth")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    def strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        drop = {"time", "samples_per_sec", "data_wait", "duration", "epoch_time", "path", "run_dir"}
        out = []
        for r in records:
            r = {k: v for k, v in r.items() if k not in drop}
            if "metrics" in r:
                r["metrics"] = {k: v for k, v in r["metrics"].items() if k not in drop}
            out.append(r)
        return out

    assert strip(read_records(a.run_dir)) == strip(read_records(b.run_dir))
    c = trainforge.fit(config, output=tmp_path / "c", seed=4)
    wc = load_checkpoint(c.run_dir / "checkpoints" / "last.pth")["model"]
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_gradient_accumulation_equals_big_batch(tmp_path: Path) -> None:
    base = {
        "model": {"architecture": "mlp", "hidden_sizes": [16]},
        "data": {"train_path": "builtin:iris", "shuffle": False},
        "training": {
            "epochs": 1,
            "optimizer": "sgd",
            "momentum": 0.0,
            "learning_rate": 0.5,
            "max_steps": 1,
        },
        "logging": {"tensorboard": False, "progress_bar": "off"},
        "checkpointing": {"save_best": False},
    }
    big = trainforge.fit(base, ["data.batch_size=40"], output=tmp_path / "big")
    small = trainforge.fit(
        base,
        ["data.batch_size=10", "training.gradient_accumulation_steps=4"],
        output=tmp_path / "small",
    )
    wb = load_checkpoint(big.run_dir / "checkpoints" / "last.pth")["model"]
    ws = load_checkpoint(small.run_dir / "checkpoints" / "last.pth")["model"]
    assert big.global_step == small.global_step == 1
    for key in wb:
        torch.testing.assert_close(wb[key], ws[key], rtol=1e-5, atol=1e-6)


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class StopAfterFirstValidation(Hook):
    def __init__(self) -> None:
        self.steps: list[int] = []
        self.saved: list[Path] = []

    def on_step(self, state: RunState) -> None:
        self.steps.append(state.global_step)

    def on_validation(self, state: RunState) -> bool:
        return True

    def on_checkpoint(self, path: Path, state: RunState) -> None:
        self.saved.append(path)


def test_python_api_with_own_module_dataset_and_hooks(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y)
    train, val = TensorDataset(x[::2], y[::2]), TensorDataset(x[1::2], y[1::2])
    hook = StopAfterFirstValidation()
    result = trainforge.fit(
        {
            "training": {"epochs": 5},
            "logging": {"progress_bar": "off"},
            "checkpointing": {"monitor": "val_accuracy"},
        },
        model=TinyNet(),
        train_data=train,
        val_data=val,
        hooks=[hook],
        output=tmp_path / "api",
    )
    assert result.status == "stopped" and result.stop_reason == "hook" and result.exit_code == 4
    assert result.epochs_completed == 1
    assert hook.steps == list(range(1, len(hook.steps) + 1))
    assert any(p.name == "best.pth" for p in hook.saved)
    model = trainforge.load_model(result.checkpoints["best"])
    assert isinstance(model.network, nn.Module)


def test_existing_run_folder_is_refused_and_unsafe_resume_changes(tmp_path: Path) -> None:
    config = {**DIGITS, "training": {"epochs": 1}}
    first = trainforge.fit(config, output=tmp_path / "r", fast_dev_run=True)
    with pytest.raises(trainforge.TrainforgeError, match=r"already exists"):
        trainforge.fit(config, output=tmp_path / "r")
    with pytest.raises(ConfigError, match=r"training.learning_rate"):
        trainforge.fit(config, ["training.learning_rate=0.1"], resume=first.checkpoints["last"])


def test_resume_continues_bit_exactly(tmp_path: Path) -> None:
    config = {
        **DIGITS,
        "model": {"architecture": "simple_cnn", "channels": [8, 16], "dropout": 0.1},
        "training": {"epochs": 3, "learning_rate": 0.003},
        "lr_scheduler": {"type": "cosine", "warmup_epochs": 0.5},
    }
    full = trainforge.fit(config, output=tmp_path / "full")
    part = trainforge.fit(config, output=tmp_path / "part", hooks=[StopAfterFirstValidation()])
    assert part.epochs_completed == 1
    resumed = trainforge.fit(config, resume=part.checkpoints["last"], output=tmp_path / "resumed")
    assert resumed.epochs_completed == 3
    wf = load_checkpoint(full.checkpoints["last"])["model"]
    wr = load_checkpoint(resumed.checkpoints["last"])["model"]
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    history = [r for r in read_records(resumed.run_dir) if r["type"] == "epoch"]
    assert [r["epoch"] for r in history] == [1, 2, 3]  # the first run's history was carried over
