"""The monitor's metrics-log reader: same answers as the shared decoder, torn and bad lines,
non-finite values, schema_version, missing and empty logs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trainforge.errors import LogError
from trainforge.health import Series
from trainforge.logging import JsonlSink, read_jsonl
from trainforge.monitor import read_log
from trainforge.monitor._steps import read_steps


def write_log(path: Path, n: int = 50) -> Path:
    sink = JsonlSink(path)
    sink.log({"type": "event", "event": "start", "step": 0})
    for i in range(1, n + 1):
        sink.log(
            {
                "type": "step",
                "step": i,
                "epoch": 1 + i // 10,
                "loss": 1 / i,
                "lr": 0.01,
                "grad_norm": 2.0,
                "samples_per_sec": 100.0,
                "data_wait": 0.1,
            }
        )
        if i % 10 == 0:
            sink.log(
                {
                    "type": "validation",
                    "step": i,
                    "epoch": i // 10,
                    "metrics": {"val_loss": 2 / i, "val_accuracy": 0.5 + i / 200},
                }
            )
            sink.log(
                {
                    "type": "epoch",
                    "step": i,
                    "epoch": i // 10,
                    "metrics": {"train_loss": 1 / i, "val_loss": 2 / i},
                }
            )
            sink.log({"type": "resources", "step": i, "cpu_percent": 50.0, "rss_mb": 100.0})
    sink.close()
    return path


def same_series(a: Series, b: Series) -> None:
    for name in ("steps", "validations", "epochs", "resources"):
        left, right = getattr(a, name), getattr(b, name)
        assert set(left) == set(right), name
        for key in left:
            np.testing.assert_array_equal(left[key], right[key], err_msg=f"{name}.{key}")


def test_fast_reader_matches_the_shared_decoder(tmp_path: Path) -> None:
    path = write_log(tmp_path / "metrics.json")
    log = read_log(path)
    same_series(log.series, Series.from_records(read_jsonl(path)))
    assert log.records == 1 + 50 + 5 * 3 and not log.torn and log.skipped == 0
    assert [e["event"] for e in log.events] == ["start"]


def test_nonfinite_values_come_back_as_floats(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    sink = JsonlSink(path)
    sink.log({"type": "step", "step": 1, "loss": 1.0, "grad_norm": 1.0})
    sink.log({"type": "step", "step": 2, "loss": math.nan, "grad_norm": math.inf})
    sink.log({"type": "step", "step": 3, "loss": 0.5, "grad_norm": -math.inf})
    sink.close()
    steps = read_log(path).series.steps
    assert steps["loss"][0] == 1.0 and math.isnan(steps["loss"][1]) and steps["loss"][2] == 0.5
    assert list(steps["grad_norm"]) == [1.0, math.inf, -math.inf]


def test_torn_last_line_and_garbage_lines(tmp_path: Path) -> None:
    path = write_log(tmp_path / "metrics.json", n=20)
    whole = read_log(path)
    with path.open("ab") as f:
        f.write(b'{"type": "step", "step": 21, "lo')  # killed mid-write
    torn = read_log(path)
    assert torn.torn and torn.records == whole.records
    same_series(torn.series, whole.series)
    text = path.read_bytes().rsplit(b"\n", 1)[0] + b"\nnot json at all\n[1, 2]\n"
    path.write_bytes(text)
    bad = read_log(path)
    assert bad.skipped == 2 and bad.records == whole.records
    same_series(bad.series, whole.series)


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = write_log(tmp_path / "metrics.json", n=5)
    with path.open("a") as f:
        f.write('{"type": "step", "schema_version": 99, "step": 6, "loss": 1.0}\n')
    with pytest.raises(LogError, match=r"schema_version 99.*upgrade trainforge"):
        read_log(path)
    with pytest.raises(LogError, match="schema_version 99"):
        read_jsonl(path)


def test_missing_and_empty_logs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="no metrics log at"):
        read_log(tmp_path / "nope.json")
    empty = tmp_path / "metrics.json"
    empty.write_bytes(b"")
    with pytest.raises(LogError, match="no complete records yet"):
        read_log(empty)
    empty.write_bytes(b'{"type": "st')
    with pytest.raises(LogError, match="no complete records yet"):
        read_log(empty)
    with pytest.raises(LogError, match="is a folder"):
        read_log(tmp_path)


def test_steps_of_other_shapes_and_blank_lines_read_like_the_shared_decoder(
    tmp_path: Path,
) -> None:
    path = write_log(tmp_path / "metrics.json", n=30)
    lines = path.read_bytes().split(b"\n")
    odd = [
        b"",
        b"   ",
        b'{"step": 31, "type": "step", "schema_version": 1, "loss": 0.25, "epoch": 4}',
        b'{"type": "step", "schema_version": 1, "time": 1.0, "step": 32, "loss": 0.5, '
        b'"extra": 1, "epoch": 4}',
        b'{"type": "step", "schema_version": 1, "time": 1.0, "step": 33, "loss": true}',
        b'{"type": "step", "schema_version": 1, "time": 1.0, "step": 34, "loss": "0.5"}',
    ]
    path.write_bytes(b"\n".join(lines[:10] + odd[:2] + lines[10:-1] + odd[2:]) + b"\n")
    log = read_log(path)
    same_series(log.series, Series.from_records(read_jsonl(path)))
    assert log.skipped == 0 and log.records == len(read_jsonl(path))
    # The column reader took the plain steps and handed every other line over whole.
    read = read_steps(path.read_bytes(), ("step", "loss"))
    assert read is not None and len(read[0]["step"]) == 30
    assert len(read[1]) == 1 + 3 * 3 + 4
    # Only the asked-for step numbers are kept (the monitor's commands skip the others).
    narrow = read_log(path, ("step", "loss"))
    assert set(narrow.series.steps) == {"step", "loss"}
    np.testing.assert_array_equal(narrow.series.steps["loss"], log.series.steps["loss"])
