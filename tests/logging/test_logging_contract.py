"""Every sink that runs here honours the same contract; Loggers fans out and resumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainforge.config.schema import LoggingConfig
from trainforge.logging import (
    AlertSink,
    JsonlSink,
    Sink,
    TensorBoardSink,
    TextLog,
    build_sinks,
    read_jsonl,
)

RECORDS: list[dict[str, Any]] = [
    {"type": "event", "event": "start", "step": 0, "epoch": 0},
    {"type": "step", "step": 1, "epoch": 1, "loss": 0.9, "lr": 0.01, "grad_norm": 1.5},
    {"type": "step", "step": 2, "epoch": 1, "loss": float("nan"), "lr": 0.01},
    {"type": "validation", "step": 2, "epoch": 1, "metrics": {"val_loss": 0.8}},
    {"type": "epoch", "step": 2, "epoch": 1, "metrics": {"train_loss": 0.85}, "duration": 0.1},
    {"type": "alert", "level": "warning", "rule": "nan", "message": "NaN loss"},
]

SINKS: dict[str, Callable[[Path], Sink]] = {
    "jsonl": lambda d: JsonlSink(d / "metrics.json"),
    "alerts": lambda d: AlertSink(d / "alerts.jsonl"),
    "text": lambda d: TextLog(d / "train.log"),
    "tensorboard": lambda d: TensorBoardSink(d / "tb"),
}


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_sink_contract(kind: str, tmp_path: Path) -> None:
    sink = SINKS[kind](tmp_path)
    for record in RECORDS:
        sink.log(dict(record))
    sink.close()
    sink.close()  # idempotent
    assert any(p.is_file() and p.stat().st_size > 0 for p in tmp_path.rglob("*"))


def _config_dict() -> dict[str, object]:
    return {"training": {"epochs": 4, "learning_rate": 0.01}}


def test_loggers_fan_out_and_resume_without_duplicates(tmp_path: Path) -> None:
    cfg = LoggingConfig(tensorboard=False)
    logs = tmp_path / "logs"
    loggers = build_sinks(
        cfg, run_dir=tmp_path, log_dir=logs, run_name="r", config_dict=_config_dict()
    )
    loggers.log({"type": "step", "step": 1, "epoch": 1, "loss": 1.0})
    loggers.log({"type": "epoch", "step": 1, "epoch": 1, "metrics": {"train_loss": 1.0}})
    loggers.alert("slow", "data loading is slow", step=1, epoch=1)
    saved = loggers.positions()
    assert saved["step"] == 1 and set(saved) == {"metrics", "text", "alerts", "step"}
    loggers.log({"type": "step", "step": 2, "epoch": 2, "loss": 0.5})
    loggers.alert("late", "after the checkpoint", step=2, epoch=2)
    loggers.close()
    loggers.close()

    resumed = build_sinks(
        cfg, run_dir=tmp_path, log_dir=logs, run_name="r", config_dict=_config_dict(), resume=saved
    )
    resumed.log({"type": "step", "step": 2, "epoch": 2, "loss": 0.4})
    resumed.close()

    steps = [r for r in read_jsonl(logs / "metrics.json") if r["type"] == "step"]
    assert [(r["step"], r["loss"]) for r in steps] == [(1, 1.0), (2, 0.4)]
    assert [a["rule"] for a in read_jsonl(logs / "alerts.jsonl")] == ["slow"]
    text = (logs / "train.log").read_text()
    assert "epoch 1/4 step 1 | train_loss 1.0000" in text
    assert "WARN  [slow] data loading is slow" in text
    assert "after the checkpoint" not in text
    assert "loss 0.4000" in text and "loss 0.5000" not in text


def test_loggers_with_tensorboard_purges_on_resume(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = LoggingConfig(tensorboard=True)
    logs = tmp_path / "logs"
    first = build_sinks(cfg, run_dir=tmp_path, log_dir=logs, run_name="r", config_dict={})
    for step in (1, 2, 3):
        first.log({"type": "step", "step": step, "loss": float(step)})
    saved = first.positions(step=2)
    first.close()
    resumed = build_sinks(
        cfg, run_dir=tmp_path, log_dir=logs, run_name="r", config_dict={}, resume=saved
    )
    resumed.log({"type": "step", "step": 3, "loss": 30.0})
    resumed.close()

    acc = EventAccumulator(str(logs / "tensorboard"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("step/loss")] == [(1, 1.0), (2, 2.0), (3, 30.0)]


class _Broken:
    name = "broken"

    def log(self, record: dict[str, object]) -> None:
        raise RuntimeError("tracker unreachable")

    def close(self) -> None:
        raise RuntimeError("still unreachable")


def test_a_failing_tracker_is_dropped_with_a_warning(tmp_path: Path) -> None:
    cfg = LoggingConfig(tensorboard=False)
    loggers = build_sinks(cfg, run_dir=tmp_path, log_dir=tmp_path, run_name="r", config_dict={})
    loggers.extra.append(_Broken())
    loggers.log({"type": "step", "step": 1, "loss": 1.0})
    loggers.log({"type": "step", "step": 2, "loss": 1.0})
    loggers.close()
    assert loggers.extra == []
    text = (tmp_path / "train.log").read_text()
    assert text.count("broken logging failed (tracker unreachable); continuing without it") == 1
    assert len(read_jsonl(tmp_path / "metrics.json")) == 2
