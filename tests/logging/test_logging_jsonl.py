"""metrics.json / alerts.jsonl: round trip, non-finite values, torn lines, resume truncation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainforge.logging import (
    SCHEMA_VERSION,
    AlertSink,
    JsonlSink,
    decode_line,
    encode_record,
    read_jsonl,
    read_jsonl_from,
)


def test_round_trip_adds_schema_version_and_time(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "metrics.json"
    sink = JsonlSink(path)
    sink.log({"type": "step", "step": 1, "epoch": 1, "loss": 0.5, "lr": 1e-3})
    sink.log(
        {"type": "validation", "step": 2, "epoch": 1, "metrics": {"val_loss": 0.4}, "time": 12.5}
    )
    sink.close()

    records = read_jsonl(path)
    assert [r["type"] for r in records] == ["step", "validation"]
    assert all(r["schema_version"] == SCHEMA_VERSION for r in records)
    assert isinstance(records[0]["time"], float)
    assert records[1]["time"] == 12.5
    assert records[1]["metrics"] == {"val_loss": 0.4}
    # Every line is strict JSON on its own.
    for line in path.read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON token {c}"))


def test_nonfinite_values_are_null_plus_a_map_and_come_back(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    with_nan = {
        "type": "validation",
        "step": 3,
        "loss": float("nan"),
        "metrics": {"val_loss": float("inf"), "val.top1": -math.inf, "val_accuracy": 0.5},
    }
    sink = JsonlSink(path)
    sink.log(with_nan)
    sink.close()

    raw = json.loads(path.read_text())
    assert raw["loss"] is None and raw["metrics"]["val_loss"] is None
    assert raw["nonfinite"] == {
        "loss": "nan",
        "metrics.val_loss": "inf",
        "metrics.val.top1": "-inf",
    }

    (back,) = read_jsonl(path)
    assert math.isnan(back["loss"])
    assert back["metrics"]["val_loss"] == math.inf
    assert back["metrics"]["val.top1"] == -math.inf
    assert back["metrics"]["val_accuracy"] == 0.5


def test_encode_handles_numpy_like_and_nested_lists() -> None:
    np = pytest.importorskip("numpy")
    line = encode_record({"type": "x", "cm": np.array([[1, 2], [3, 4]]), "v": np.float32(0.25)})
    assert decode_line(line) == {"type": "x", "cm": [[1, 2], [3, 4]], "v": 0.25}
    line = encode_record({"type": "x", "values": [1.0, float("nan")]})
    back = decode_line(line)
    assert back["values"][0] == 1.0 and math.isnan(back["values"][1])


def test_torn_final_line_is_skipped_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    sink = JsonlSink(path)
    for step in range(3):
        sink.log({"type": "step", "step": step, "loss": 1.0})
    sink.close()
    # A SIGKILL mid-write leaves half a record without its newline.
    with path.open("ab") as f:
        f.write(b'{"type": "step", "step": 3, "lo')

    assert [r["step"] for r in read_jsonl(path)] == [0, 1, 2]
    records, offset = read_jsonl_from(path)
    assert len(records) == 3 and offset < path.stat().st_size


def test_tailing_returns_only_new_complete_records(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    sink = JsonlSink(path)
    sink.log({"type": "step", "step": 1})
    first, offset = read_jsonl_from(path)
    sink.log({"type": "step", "step": 2})
    second, offset2 = read_jsonl_from(path, offset)
    sink.close()
    assert [r["step"] for r in first] == [1]
    assert [r["step"] for r in second] == [2]
    assert offset2 == path.stat().st_size == sink.position()


def test_corrupt_middle_line_skipped_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{"type": "a"}\nnot json\n{"type": "b"}\n')
    assert [r["type"] for r in read_jsonl(path)] == ["a", "b"]
    with pytest.raises(ValueError, match="byte 14"):
        read_jsonl(path, strict=True)


def test_resume_truncates_records_written_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    sink = JsonlSink(path)
    for step in (1, 2, 3):
        sink.log({"type": "step", "step": step})
    checkpoint_position = sink.position()
    for step in (4, 5):  # written after the checkpoint, then the process died
        sink.log({"type": "step", "step": step})
    sink.close()

    resumed = JsonlSink(path, truncate_at=checkpoint_position)
    assert resumed.position() == checkpoint_position
    for step in (4, 5, 6):
        resumed.log({"type": "step", "step": step})
    resumed.close()
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3, 4, 5, 6]


def test_reopening_after_a_torn_write_drops_the_fragment(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{"type": "step", "step": 1}\n{"type": "st')
    sink = JsonlSink(path)  # no stored position: still never glues onto the fragment
    sink.log({"type": "step", "step": 2})
    sink.close()
    assert [r["step"] for r in read_jsonl(path, strict=True)] == [1, 2]


def test_stored_position_past_the_end_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{"type": "a"}\n')
    sink = JsonlSink(path, truncate_at=10_000)
    sink.close()
    assert read_jsonl(path) == [{"type": "a"}]


def test_record_needs_a_type_and_closed_sink_refuses(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "m.json")
    with pytest.raises(ValueError, match="type"):
        sink.log({"step": 1})
    sink.close()
    with pytest.raises(ValueError, match="closed"):
        sink.log({"type": "step"})


def test_alert_sink_writes_alert_records(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = AlertSink(path)
    sink.alert(
        "nan_loss", "loss is NaN at step 7", level="error", step=7, epoch=2, loss=float("nan")
    )
    sink.log({"rule": "lr", "message": "LR is 0"})
    with pytest.raises(ValueError, match="level"):
        sink.log({"rule": "x", "message": "y", "level": "loud"})
    sink.close()
    first, second = read_jsonl(path)
    assert first["type"] == "alert" and first["level"] == "error" and first["rule"] == "nan_loss"
    assert first["step"] == 7 and first["epoch"] == 2 and math.isnan(first["loss"])
    assert second["type"] == "alert" and second["level"] == "warning"
