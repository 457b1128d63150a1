"""training.oom_policy on CPU: an out-of-memory error raised where a too-large batch would be
allocated, and what the loop does with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.train.oom import (
    MicroBatch,
    OutOfMemory,
    effective_accumulation,
    is_out_of_memory,
    shrunk,
    split_sizes,
)

BASE: dict[str, Any] = {
    "model": {"architecture": "mlp"},
    "data": {"train_path": "builtin:iris", "batch_size": 16},
    "training": {"epochs": 2, "learning_rate": 0.01},
    "logging": {"progress_bar": "off", "tensorboard": False, "log_every_n_steps": 1},
}


class SmallMemoryMLP(nn.Module):
    """An MLP on a device with room for ``capacity`` rows of activations while training.

    The hidden activation is allocated as torch would, and a training batch larger than the
    capacity raises torch's out-of-memory error at that allocation, from the ``start``-th
    training forward on (the earlier ones fit, as on a device whose memory fills up later).
    """

    def __init__(self, capacity: int | None, start: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(4, 32)
        self.fc2 = nn.Linear(32, 3)
        self.capacity = capacity
        self.start = start
        self.calls = 0

    def _allocate_hidden(self, rows: int) -> None:
        """Where the hidden activation's memory is taken: too many rows do not fit."""
        limited = self.training and self.capacity is not None and self.calls >= self.start
        if limited and rows > (self.capacity or 0):
            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {rows * 32 * 4} bytes"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._allocate_hidden(x.shape[0])
        if self.training:
            self.calls += 1
        return self.fc2(torch.relu(self.fc1(x)))


def config(batch: int, accumulation: int, policy: str = "fail", epochs: int = 2) -> dict[str, Any]:
    return {
        **BASE,
        "data": {**BASE["data"], "batch_size": batch},
        "training": {
            **BASE["training"],
            "gradient_accumulation_steps": accumulation,
            "oom_policy": policy,
            "epochs": epochs,
        },
    }


def weights(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path, map_location="cpu")
    return dict(state["model"])


def alerts(run: Path) -> list[dict[str, Any]]:
    path = run / "logs" / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_shrink_decisions() -> None:
    assert shrunk(16) == 8
    assert shrunk(5) == 3
    assert shrunk(2) == 1
    with pytest.raises(OutOfMemory, match="micro-batch of 1 sample"):
        shrunk(1)
    assert split_sizes(16, 8) == [8, 8]
    assert split_sizes(7, 3) == [3, 3, 1]
    assert effective_accumulation(16, 2, 8) == 4
    assert effective_accumulation(16, 1, 5) == 4
    micro = MicroBatch()
    assert micro.shrink(16) == 8 and micro.shrink(16) == 4
    again = MicroBatch()
    again.load_state_dict(micro.state_dict())
    assert (again.size, again.shrinks) == (4, 2)
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert not is_out_of_memory(RuntimeError("x"))


def test_shrink_trains_as_the_smaller_micro_batch_would_from_the_start(tmp_path: Path) -> None:
    # batch 16 x 2: the second forward of the first step runs out of memory, so the window's
    # first batch (already backwarded at 16 rows) is redone too, at 8 rows.
    shrunk_run = trainforge.fit(
        config(16, 2, "shrink"), model=SmallMemoryMLP(capacity=8, start=1), output=tmp_path / "a"
    )
    planned = trainforge.fit(config(8, 4), model=SmallMemoryMLP(None), output=tmp_path / "b")
    assert shrunk_run.status == planned.status == "completed"
    a = weights(shrunk_run.checkpoints["last"])
    b = weights(planned.checkpoints["last"])
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-7)
    # the same optimizer steps: 135 rows / 32 per step = 5 steps per epoch
    assert shrunk_run.global_step == planned.global_step == 10

    (alert,) = alerts(shrunk_run.run_dir)
    assert alert["rule"] == "oom_shrink" and alert["step"] == 0
    assert "micro-batch 16 -> 8" in alert["message"]
    assert "gradient_accumulation_steps: 4" in alert["fix"]
    assert "out of memory" in alert["evidence"]["error"]
    meta = json.loads((shrunk_run.run_dir / "metadata.json").read_text())
    assert meta["memory"] == {
        "micro_batch_size": 8,
        "gradient_accumulation_steps": 4,
        "oom_shrinks": 1,
    }
    state = load_checkpoint(shrunk_run.checkpoints["last"], map_location="cpu")
    assert state["micro_batch"] == {"size": 8, "shrinks": 1}


def test_a_resume_keeps_the_shrunk_micro_batch(tmp_path: Path) -> None:
    first = trainforge.fit(
        config(16, 1, "shrink", epochs=1),
        model=SmallMemoryMLP(capacity=8),
        output=tmp_path / "run",
    )
    # the resumed model would fail at 16 rows with oom_policy: fail: it never sees them
    resumed = trainforge.fit(
        config(16, 1, "fail", epochs=2),
        model=SmallMemoryMLP(capacity=8),
        resume=first.checkpoints["last"],
        output=tmp_path / "run",
        trust_model_code=True,
    )
    planned = trainforge.fit(
        config(8, 2, epochs=2), model=SmallMemoryMLP(None), output=tmp_path / "planned"
    )
    assert resumed.status == "completed" and resumed.global_step == planned.global_step
    a, b = weights(resumed.checkpoints["last"]), weights(planned.checkpoints["last"])
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-7)
    assert len(alerts(resumed.run_dir)) == 1  # the first run's, not a second shrink
    meta = json.loads((resumed.run_dir / "metadata.json").read_text())
    assert meta["memory"]["micro_batch_size"] == 8


def test_fail_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(OutOfMemory) as info:
        trainforge.fit(config(16, 1), model=SmallMemoryMLP(capacity=8), output=tmp_path / "r")
    message = str(info.value)
    assert "\n" not in message
    assert "out of memory at step 1" in message and "oom_policy: shrink" in message
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text())
    assert meta["status"] == "failed"


def test_shrink_refuses_to_go_below_one_sample(tmp_path: Path) -> None:
    with pytest.raises(OutOfMemory, match="micro-batch of 1 sample"):
        trainforge.fit(
            config(4, 1, "shrink"), model=SmallMemoryMLP(capacity=0), output=tmp_path / "r"
        )
    shrinks = [a for a in alerts(tmp_path / "r") if a["rule"] == "oom_shrink"]
    assert [a["evidence"]["micro_batch"] for a in shrinks] == [4, 2]
