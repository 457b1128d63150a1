"""--resume auto and --resume RUN_DIR find checkpoints under a custom checkpointing.save_dir."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import trainforge
from trainforge.errors import ConfigError
from trainforge.train.hooks import Hook, RunState
from trainforge.verify import describe, verify_resume

CONFIG = {
    "model": {"architecture": "mlp", "hidden_sizes": [8]},
    "data": {"train_path": "builtin:iris"},
    "training": {"epochs": 3},
    "checkpointing": {"save_dir": "ckpts/here"},
    "logging": {"progress_bar": "off", "tensorboard": False},
}


class StopAfterOneEpoch(Hook):
    def on_validation(self, state: RunState) -> bool:
        return True


def test_auto_resume_uses_the_runs_save_dir(tmp_path: Path) -> None:
    first = trainforge.fit(CONFIG, output=tmp_path / "run", hooks=[StopAfterOneEpoch()])
    assert (tmp_path / "run" / "ckpts" / "here" / "last.pth").is_file()
    assert first.epochs_completed == 1
    resumed = trainforge.fit(CONFIG, output=tmp_path / "run", resume="auto")
    assert resumed.epochs_completed == 3 and resumed.status == "completed"
    again = trainforge.fit(CONFIG, ["training.epochs=4"], resume=tmp_path / "run")
    assert again.epochs_completed == 4


def test_verify_resume_follows_the_configs_save_dir_and_log_dir(tmp_path: Path) -> None:
    """verify-resume reads last.pth and metrics.json where the config puts them."""
    path = tmp_path / "iris.yaml"
    cfg = {
        **CONFIG,
        "checkpointing": {"save_dir": "ckpts/here", "save_every_n_steps": 2},
        "logging": {**CONFIG["logging"], "log_dir": "records", "log_every_n_steps": 1},
        "reproducibility": {"seed": 5, "deterministic": True},
    }
    path.write_text(yaml.safe_dump(cfg))
    report = verify_resume(path, kills=1, seed=2, output=tmp_path / "verify", echo=lambda _: None)
    assert report.match, describe(report)
    for run in (report.reference, report.interrupted):
        assert (run / "ckpts" / "here" / "last.pth").is_file()
        assert (run / "records" / "metrics.json").is_file()
        assert not (run / "checkpoints").exists() and not (run / "logs").exists()
    assert report.total_steps > 1 and report.launches == 2


def test_verify_resume_refuses_an_absolute_save_dir(tmp_path: Path) -> None:
    path = tmp_path / "iris.yaml"
    cfg = {**CONFIG, "checkpointing": {"save_dir": str(tmp_path / "shared")}}
    path.write_text(yaml.safe_dump(cfg))
    # The reference and the interrupted run would share the folder: the config is refused.
    with pytest.raises(ConfigError, match=r"save_dir .*must be relative to the run folder"):
        verify_resume(path, kills=1, output=tmp_path / "verify", echo=lambda _: None)
    assert not (tmp_path / "verify").exists()
