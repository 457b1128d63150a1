"""training.nan_policy on runs made to diverge (SGD at an absurd learning rate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from resume_testing import read_records, tensorboard_steps, write_config

from trainforge.checkpoint.format import is_valid_checkpoint, load_checkpoint
from trainforge.cli.main import main


def diverging(policy: str, lr: float, **training: Any) -> dict[str, Any]:
    return {
        "model": {"architecture": "mlp", "hidden_sizes": [32]},
        "data": {"train_path": "builtin:digits", "batch_size": 64},
        "training": {
            "epochs": 2,
            "optimizer": "sgd",
            "learning_rate": lr,
            "nan_policy": policy,
            **training,
        },
        "checkpointing": {"monitor": "val_accuracy", "save_every_n_steps": 2},
        "logging": {"log_every_n_steps": 1, "progress_bar": "off", "tensorboard": False},
        "reproducibility": {"seed": 3, "deterministic": True},
    }


def train(tmp_path: Path, cfg: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> int:
    path = write_config(tmp_path / "run.yaml", cfg)
    code = main(["train", "--config", str(path), "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code


def alerts(run: Path) -> list[dict[str, Any]]:
    text = (run / "logs" / "alerts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in text if line.strip()]


def test_stop_fails_the_run_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tmp_path, diverging("stop", 1e8), capsys) == 3
    run = tmp_path / "run"
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "failed" and meta["stop_reason"] == "nonfinite"
    assert "training diverged" in meta["error"]
    [alert] = alerts(run)
    assert alert["rule"] == "nonfinite" and "nan_policy: stop" in alert["message"]
    last = run / "checkpoints" / "last.pth"
    assert is_valid_checkpoint(last)
    assert load_checkpoint(last)["trainer"]["global_step"] <= alert["step"]


def test_skip_drops_updates_then_gives_up_after_max_consecutive_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train(tmp_path, diverging("skip", 1e8, max_consecutive_skips=3), capsys)
    assert code == 3
    run = tmp_path / "run"
    found = alerts(run)
    assert [a["rule"] for a in found] == ["nonfinite"] * 4
    assert len({a["step"] for a in found}) == 1  # skipped steps do not advance the count
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "failed" and "4 non-finite steps in a row" in meta["error"]
    assert meta["global_step"] == found[0]["step"]


def test_rollback_reloads_lowers_the_lr_and_cuts_the_logs_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = diverging("rollback", 1e4, rollback_lr_factor=0.5)
    cfg["logging"]["tensorboard"] = True
    assert train(tmp_path, cfg, capsys) == 0
    run = tmp_path / "run"
    rules = [a["rule"] for a in alerts(run)]
    assert rules.count("rollback") >= 1 and rules.count("nonfinite") == rules.count("rollback")
    rollback = next(a for a in alerts(run) if a["rule"] == "rollback")
    records = read_records(run)
    steps = [r for r in records if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, len(steps) + 1))  # none twice
    assert {r["lr"] for r in steps if r["step"] <= rollback["step"]} == {1e4}
    assert {r["lr"] for r in steps if r["step"] > rollback["step"]} == {5e3}
    assert tensorboard_steps(run, "step/loss") == [r["step"] for r in steps]
    assert load_checkpoint(run / "checkpoints" / "last.pth")["scheduler"]["factor"] == 0.5
    assert "rolled back" in (run / "logs" / "train.log").read_text()


def test_rollback_gives_up_when_every_retry_diverges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train(tmp_path, diverging("rollback", 1e8, max_consecutive_skips=3), capsys)
    assert code == 3
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert "4 rollbacks in a row" in meta["error"]
