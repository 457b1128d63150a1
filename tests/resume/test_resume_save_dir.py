"""--resume auto and --resume RUN_DIR find checkpoints under a custom checkpointing.save_dir."""

from __future__ import annotations

from pathlib import Path

import trainforge
from trainforge.train.hooks import Hook, RunState

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
