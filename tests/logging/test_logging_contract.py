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


def _values_from_jsonl(path: Path) -> dict[str, float]:
    out = {}
    for r in read_jsonl(path):
        if r["type"] == "step" and r.get("loss") is not None:
            out[f"loss@{r['step']}"] = r["loss"]
        if r["type"] in ("validation", "epoch"):
            out.update({f"{k}@{r['step']}": v for k, v in r["metrics"].items()})
    return out


def _values_from_text(path: Path) -> dict[str, float]:
    text = path.read_text()
    wanted = {
        "loss@1": "epoch 1 step 1 | loss 0.9000",
        "val_loss@2": "validation epoch 1 step 2 | val_loss 0.8000",
        "train_loss@2": "epoch 1 step 2 | train_loss 0.8500",
    }
    values = {"loss@1": 0.9, "val_loss@2": 0.8, "train_loss@2": 0.85}
    return {key: values[key] for key, line in wanted.items() if line in text}


def _values_from_tensorboard(folder: Path) -> dict[str, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    names = {"step/loss": "loss", "val_loss": "val_loss", "train_loss": "train_loss"}
    return {
        f"{name}@{e.step}": e.value
        for tag, name in names.items()
        for e in acc.Scalars(tag)
        if e.value == e.value  # NaN is recorded too, but is not comparable
    }


# Each sink's own reader (the file format, TensorBoard's reader): what a user would see.
READERS: dict[str, Callable[[Path], dict[str, float]]] = {
    "jsonl": lambda d: _values_from_jsonl(d / "metrics.json"),
    "alerts": lambda d: _values_from_jsonl(d / "alerts.jsonl"),
    "text": lambda d: _values_from_text(d / "train.log"),
    "tensorboard": lambda d: _values_from_tensorboard(d / "tb"),
}


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_sink_contract(kind: str, tmp_path: Path) -> None:
    sink = SINKS[kind](tmp_path)
    for record in RECORDS:
        sink.log(dict(record))
    sink.close()
    sink.close()  # idempotent
    assert any(p.is_file() and p.stat().st_size > 0 for p in tmp_path.rglob("*"))
    # Read back with the backend's reader: the step loss, the validation and the epoch
    # metrics are there, under their steps, with their values.
    found = READERS[kind](tmp_path)
    expected = {"loss@1": 0.9, "val_loss@2": 0.8, "train_loss@2": 0.85}
    assert set(expected) <= set(found), found
    assert all(found[k] == pytest.approx(v, rel=1e-6) for k, v in expected.items()), found


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
