"""Resume from inside an epoch and from an epoch boundary, with every LR schedule and with
gradient accumulation, in-process: the continued run equals the uninterrupted one exactly."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import torch
from resume_testing import assert_same_history, assert_same_weights, config
from torch import nn
from torch.utils.data import Dataset

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.train.hooks import Hook, RunState


class Preempted(Exception):
    """Stands in for the machine going away."""


class CrashAtStep(Hook):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, state: RunState) -> None:
        if state.global_step == self.step:
            raise Preempted(f"gone at step {state.global_step}")


SCHEDULES: dict[str, dict[str, Any]] = {
    "none": {"lr_scheduler": {"type": "none"}},
    "step": {"lr_scheduler": {"type": "step", "step_size": 1, "gamma": 0.5}},
    "cosine": {"lr_scheduler": {"type": "cosine", "warmup_epochs": 0.5}},
    # Validations inside the epoch, so the plateau state changes between checkpoints.
    "plateau": {
        "lr_scheduler": {"type": "plateau", "patience": 0, "factor": 0.5, "monitor": "val_loss"},
        "training": {"epochs": 3, "learning_rate": 0.01, "val_every_n_steps": 6},
    },
    "accumulation": {
        "lr_scheduler": {"type": "cosine", "warmup_epochs": 0.3},
        "training": {"epochs": 3, "learning_rate": 0.003, "gradient_accumulation_steps": 3},
    },
}


@pytest.mark.parametrize("case", list(SCHEDULES))
def test_mid_epoch_and_epoch_boundary_resume_are_exact(tmp_path: Path, case: str) -> None:
    sections = {k: dict(v) for k, v in SCHEDULES[case].items()}
    sections["checkpointing"] = {"save_every_n_steps": 4, "save_every_n_epochs": 1}
    cfg = config(**sections)
    full = trainforge.fit(cfg, output=tmp_path / "full")
    per_epoch = full.global_step // 3
    with pytest.raises(Preempted):
        trainforge.fit(cfg, output=tmp_path / "part", hooks=[CrashAtStep(per_epoch * 8 // 5)])
    checkpoints = tmp_path / "part" / "checkpoints"
    position = load_checkpoint(checkpoints / "last.pth")["trainer"]
    assert position["epoch"] == 1 and 0 < position["batch_in_epoch"] < 26, position
    for source in ("last.pth", "epoch_001.pth"):
        out = tmp_path / f"from_{source}"
        resumed = trainforge.fit(cfg, resume=checkpoints / source, output=out)
        assert resumed.status == "completed" and resumed.global_step == full.global_step
        assert_same_weights(full.run_dir, out)
        assert_same_history(full.run_dir, out)


def test_a_resume_with_another_thread_count_warns(tmp_path: Path) -> None:
    cfg = config(training={"epochs": 2})
    with pytest.raises(Preempted):
        trainforge.fit(cfg, output=tmp_path / "run", hooks=[CrashAtStep(30)])
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        trainforge.fit(cfg, resume="auto", output=tmp_path / "run")
    finally:
        torch.set_num_threads(threads)
    log = (tmp_path / "run" / "logs" / "train.log").read_text()
    assert f"{threads + 1} threads" in log and "not promised to be bit-identical" in log
    # Same threads: no such warning.
    with pytest.raises(Preempted):
        trainforge.fit(cfg, output=tmp_path / "same", hooks=[CrashAtStep(30)])
    trainforge.fit(cfg, resume="auto", output=tmp_path / "same")
    assert "not promised" not in (tmp_path / "same" / "logs" / "train.log").read_text()


class CountingDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Iris, remembering every index read."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.reads: list[int] = []

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.reads.append(index)
        return self.x[index], self.y[index]


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_resuming_inside_an_epoch_reads_only_the_rest_of_it(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    order = torch.randperm(150, generator=torch.Generator().manual_seed(0))
    x_t, y_t = torch.tensor(x, dtype=torch.float32)[order], torch.tensor(y)[order]
    cfg = {
        "data": {"batch_size": 10},
        "training": {"epochs": 3},
        "checkpointing": {"monitor": "val_accuracy", "save_every_n_steps": 4},
        "logging": {"progress_bar": "off", "tensorboard": False},
        "reproducibility": {"seed": 1, "deterministic": True},
    }

    def train(output: str, hooks: list[Hook], resume: str | None = None) -> CountingDataset:
        data = CountingDataset(x_t[:100], y_t[:100])
        val = CountingDataset(x_t[100:], y_t[100:])
        with contextlib.suppress(Preempted):
            trainforge.fit(
                cfg,
                model=Linear(),
                train_data=data,
                val_data=val,
                hooks=hooks,
                output=tmp_path / output,
                resume=resume,
            )
        return data

    full = train("full", [])
    setup_reads = len(full.reads) - 3 * 100  # set-up looks at the data once (spec, classes)
    train("part", [CrashAtStep(15)])
    position = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pth")["trainer"]
    assert (position["epoch"], position["batch_in_epoch"]) == (1, 2)
    resumed = train("part", [], resume="auto")
    # The rest of epoch 2 (batches 2..9) and all of epoch 3, in the uninterrupted order.
    assert len(resumed.reads) == setup_reads + 8 * 10 + 100
    assert resumed.reads[setup_reads:] == full.reads[setup_reads + 100 + 20 :]
