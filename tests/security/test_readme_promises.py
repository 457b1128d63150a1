"""Behaviour the README promises: --fast_dev_run is one short epoch, a resume says what it did
and where the best model is, and the parameter count has one definition everywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from security_testing import ROOT, tiny_config

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.version_folder import read_release
from trainforge.cli.main import main


def test_fast_dev_run_on_the_example_is_one_short_epoch(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = trainforge.fit(
        ROOT / "examples" / "digits.yaml", output=tmp_path / "dev", fast_dev_run=True
    )
    seconds = time.perf_counter() - started
    assert result.status == "completed" and result.epochs_completed == 1
    assert result.global_step == 3  # 3 training batches
    assert seconds < 30, seconds  # 20 full epochs took 16.6 s of training alone
    records = [json.loads(line) for line in (result.run_dir / "logs" / "metrics.json").open()]
    validations = [r for r in records if r["type"] == "validation"]
    assert len(validations) == 1


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch run; returns its last.pth."""
    config = tiny_config()
    config["training"]["epochs"] = 2
    result = trainforge.fit(config, output=tmp_path_factory.mktemp("src") / "run")
    return result.checkpoints["last"]


def test_resume_with_nothing_left_to_train_says_so(
    two_epochs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(tiny_config() | {"training": {"epochs": 2}}))
    args = ["train", "--config", str(config), "--resume", str(two_epochs)]
    assert main([*args, "--output", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "nothing to train: the checkpoint had already completed 2 epoch(s)" in out
    best = two_epochs.parent / "best.pth"
    assert f"the best model is still {best.resolve()}" in out
    assert "(None)" not in out


def test_resume_that_never_improves_points_at_the_earlier_best(
    two_epochs: Path, tmp_path: Path
) -> None:
    config = tiny_config()
    config["training"]["epochs"] = 3
    # A monitor that cannot improve on its own best: the mode asks for a larger loss.
    config["checkpointing"] = {"monitor": "val_loss", "mode": "max"}
    source_best = load_checkpoint(two_epochs.parent / "best.pth")["metrics"]["val_loss"]
    result = trainforge.fit(config, resume=two_epochs, output=tmp_path / "new")
    if result.best_value != source_best:  # it did improve after all: nothing to check
        pytest.skip("the loss rose in epoch 3")
    assert not (tmp_path / "new" / "checkpoints" / "best.pth").exists()
    assert result.best_checkpoint == (two_epochs.parent / "best.pth").resolve()
    assert any("was not improved after the resume" in note for note in result.notes)


def test_parameter_count_is_one_number_in_log_checkpoint_and_registry(tmp_path: Path) -> None:
    config = tiny_config(architecture="simple_cnn", channels=[4, 8])
    config["data"]["train_path"] = "builtin:digits"
    result = trainforge.fit(config, output=tmp_path / "run", fast_dev_run=True)
    model = trainforge.load_model(result.checkpoints["last"]).network
    expected = sum(p.numel() for p in model.parameters())
    assert sum(b.numel() for b in model.buffers()) > 0  # BatchNorm: buffers exist, not counted
    records = [json.loads(line) for line in (result.run_dir / "logs" / "metrics.json").open()]
    logged = next(r["parameters"] for r in records if "parameters" in r)
    assert logged == expected
    assert load_checkpoint(result.checkpoints["last"])["parameters"] == expected
    assert read_release(result.checkpoints["last"]).parameters == expected
