"""train.log: line format, record rendering, console echo, resume truncation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainforge.logging import TextLog, format_number, format_record

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def test_lines_are_timestamped_with_a_level(tmp_path: Path) -> None:
    log = TextLog(tmp_path / "train.log")
    log.info("started")
    log.warning("slow data")
    log.error("boom\nTraceback line")
    log.close()
    lines = (tmp_path / "train.log").read_text().splitlines()
    assert re.fullmatch(rf"{STAMP} INFO  started", lines[0])
    assert re.fullmatch(rf"{STAMP} WARN  slow data", lines[1])
    assert re.fullmatch(rf"{STAMP} ERROR boom", lines[2])
    assert lines[3] == "    Traceback line"


def test_epoch_record_renders_to_one_readable_line() -> None:
    record = {
        "type": "epoch",
        "step": 150,
        "epoch": 3,
        "metrics": {"train_loss": 0.213, "val_loss": 0.18, "val_accuracy": 0.96111},
        "duration": 4.12,
    }
    assert format_record(record, total_epochs=30) == (
        "epoch 3/30 step 150 | train_loss 0.2130 | val_loss 0.1800 val_accuracy 0.9611 | 4.1 s"
    )


def test_other_records_render() -> None:
    val = {"type": "validation", "step": 50, "epoch": 1, "metrics": {"val_loss": 0.5}}
    assert format_record(val) == "validation epoch 1 step 50 | val_loss 0.5000"
    step = {"type": "step", "step": 7, "epoch": 1, "loss": float("nan"), "lr": 3e-4, "time": 1.0}
    assert format_record(step, 5) == "epoch 1/5 step 7 | loss nan lr 3.000e-04"
    event = {"type": "event", "event": "checkpoint", "step": 9, "path": "last.pth"}
    assert format_record(event) == "event checkpoint (step 9): path=last.pth"
    assert format_record({"type": "unknown"}) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (12, "12"),
        (1e-5, "1.000e-05"),
        (123456.0, "123456"),
        (1.5e7, "1.500e+07"),
        (True, "True"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_echo_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = TextLog(tmp_path / "train.log", echo=True)
    log.log({"type": "validation", "step": 1, "epoch": 1, "metrics": {"val_loss": 1.0}})
    log.log({"type": "step", "step": 1, "epoch": 1, "loss": 2.0})
    log.log(
        {
            "type": "validation",
            "step": 2,
            "epoch": 1,
            "in_epoch": True,
            "metrics": {"val_loss": 0.5},
        }
    )
    log.log({"type": "epoch", "step": 3, "epoch": 1, "metrics": {"train_loss": 1.5}})
    log.close()
    err = capsys.readouterr().err
    # The console gets epochs and in-epoch validations; the file gets everything.
    assert "validation epoch 1 step 2 | val_loss 0.5000" in err
    assert "epoch 1 step 3 | train_loss 1.5000" in err
    assert "step 1 |" not in err and "val_loss 1.0000" not in err
    assert "val_loss 1.0000" in (tmp_path / "train.log").read_text()


def test_resume_truncates_text_log(tmp_path: Path) -> None:
    log = TextLog(tmp_path / "train.log")
    log.info("before checkpoint")
    pos = log.position()
    log.info("after checkpoint")
    log.close()
    resumed = TextLog(tmp_path / "train.log", truncate_at=pos)
    resumed.info("resumed")
    resumed.close()
    text = (tmp_path / "train.log").read_text()
    assert "before checkpoint" in text and "resumed" in text
    assert "after checkpoint" not in text
