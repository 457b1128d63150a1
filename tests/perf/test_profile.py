"""training.profile / --profile: a real torch.profiler trace of a few steps after a warm-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import trainforge
from trainforge.cli.main import main
from trainforge.train.profiling import ACTIVE_STEPS, WARMUP_STEPS, profile_window

CONFIG: dict[str, Any] = {
    "model": {"architecture": "mlp", "hidden_sizes": [16]},
    "data": {"train_path": "builtin:iris", "batch_size": 8},
    "training": {"epochs": 1, "profile": True},
    "logging": {"progress_bar": "off", "tensorboard": False},
}


def test_profile_window() -> None:
    assert profile_window(1000) == (WARMUP_STEPS, ACTIVE_STEPS)
    assert profile_window(WARMUP_STEPS + ACTIVE_STEPS) == (WARMUP_STEPS, ACTIVE_STEPS)
    assert profile_window(6) == (2, 4)
    assert profile_window(1) == (0, 1)


def trace_names(path: Path) -> set[str]:
    return {event.get("name", "") for event in json.loads(path.read_text())["traceEvents"]}


def test_a_profiled_run_writes_a_trace_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = trainforge.fit(CONFIG, output=tmp_path / "run")  # 17 steps: 5 warm-up, 5 recorded
    folder = result.run_dir / "logs" / "profile"
    traces = list(folder.glob("*.pt.trace.json"))
    assert [t.name for t in traces] == ["steps_000006-000010.pt.trace.json"]
    names = trace_names(traces[0])
    assert "data_wait" in names and "aten::addmm" in names
    summary = (folder / "summary.txt").read_text()
    assert "profile of optimizer steps 6-10" in summary and "waiting for data" in summary
    assert "aten::" in summary
    assert "profile of optimizer steps 6-10" in capsys.readouterr().out


def test_a_run_shorter_than_the_window_and_the_cli_flag(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    short = {**CONFIG, "training": {"epochs": 1, "max_steps": 3}}
    config.write_text(yaml.safe_dump(short))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--output", str(run), "--profile"]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["profile"] is True
    traces = list((run / "logs" / "profile").glob("*.pt.trace.json"))
    assert [t.name for t in traces] == ["steps_000002-000003.pt.trace.json"]  # 1 warm-up step
