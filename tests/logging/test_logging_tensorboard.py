"""TensorBoard event files, read back with TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainforge.logging import TensorBoardSink


def _scalars(log_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return acc


def _log_steps(sink: TensorBoardSink, steps: range, offset: float = 0.0) -> None:
    for step in steps:
        sink.log({"type": "step", "step": step, "epoch": 1, "loss": step + offset, "lr": 0.1})
        if step % 5 == 0:
            sink.log(
                {"type": "validation", "step": step, "epoch": 1, "metrics": {"val_accuracy": 0.5}}
            )


def test_tags_follow_the_contract(tmp_path: Path) -> None:
    sink = TensorBoardSink(tmp_path / "tb")
    _log_steps(sink, range(1, 6))
    sink.log({"type": "epoch", "step": 5, "epoch": 1, "metrics": {"train_loss": 0.7}})
    sink.log({"type": "event", "event": "start", "step": 0})
    sink.close()
    acc = _scalars(tmp_path / "tb")
    tags = set(acc.Tags()["scalars"])
    assert {"step/loss", "step/lr", "val_accuracy", "train_loss"} <= tags
    assert [e.step for e in acc.Scalars("step/loss")] == [1, 2, 3, 4, 5]
    assert [e.value for e in acc.Scalars("step/loss")] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [(e.step, e.value) for e in acc.Scalars("train_loss")] == [(5, pytest.approx(0.7))]


def test_resume_with_purge_step_leaves_no_duplicate_steps(tmp_path: Path) -> None:
    first = TensorBoardSink(tmp_path / "tb")
    _log_steps(first, range(1, 11))  # the run reached step 10, its checkpoint is at step 5
    first.close()

    resumed = TensorBoardSink(tmp_path / "tb", purge_step=6)
    _log_steps(resumed, range(6, 13), offset=100.0)
    resumed.close()

    acc = _scalars(tmp_path / "tb")
    loss = acc.Scalars("step/loss")
    assert [e.step for e in loss] == list(range(1, 13))
    assert [e.value for e in loss[:5]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(e.value >= 100 for e in loss[5:])
    assert [e.step for e in acc.Scalars("val_accuracy")] == [5, 10]


def test_close_flushes_and_is_idempotent(tmp_path: Path) -> None:
    sink = TensorBoardSink(tmp_path / "tb")
    sink.log({"type": "step", "step": 1, "loss": 1.0})
    sink.close()
    sink.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="closed"):
        sink.log({"type": "step", "step": 2, "loss": 1.0})
