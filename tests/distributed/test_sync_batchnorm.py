"""training.sync_batchnorm: SyncBatchNorm under DDP on GPUs; refused on a CPU (gloo) run with
one line; ignored in one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ddp_helpers import run, write_config

from trainforge.checkpoint.format import load_checkpoint

SYNC = "training:\n  sync_batchnorm: true\n"


def _config(tmp_path: Path) -> None:
    # simple_cnn has a BatchNorm after each convolution
    write_config(tmp_path, epochs=1, batch_size=64)
    text = (tmp_path / "c.yaml").read_text().replace("training:\n", SYNC, 1)
    (tmp_path / "c.yaml").write_text(text)


def test_sync_batchnorm_on_a_cpu_distributed_run_is_one_line(tmp_path: Path) -> None:
    _config(tmp_path)
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run", "--device", "cpu")
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "training.sync_batchnorm" in errors[0], done.stderr
    assert "set training.sync_batchnorm: false" in errors[0]
    assert "Traceback" not in done.stderr


def test_sync_batchnorm_in_one_process_changes_nothing(tmp_path: Path) -> None:
    _config(tmp_path)
    done = run(tmp_path, "--output", "run", "--device", "cpu", "--set", "training.max_steps=2")
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["sync_batchnorm"] is False and meta["global_batch"] == 64


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="SyncBatchNorm needs 2 GPUs")
def test_sync_batchnorm_on_two_gpus(tmp_path: Path) -> None:
    _config(tmp_path)
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["sync_batchnorm"] is True and meta["backend"] == "nccl"
    # the checkpoint has the plain model's keys: BatchNorm statistics included
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pth")
    assert any(k.endswith("running_mean") for k in state["model"])
