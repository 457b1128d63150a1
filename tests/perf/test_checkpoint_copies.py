"""One state, several files: best.pth and last.pth due together are serialised once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from disks import small_tmpfs

import trainforge
from trainforge.checkpoint.format import load_checkpoint, save_checkpoint, verify_checkpoint
from trainforge.errors import CheckpointError
from trainforge.train.checkpoint_files import write_checkpoint

CONFIG: dict[str, Any] = {
    "model": {"architecture": "mlp", "hidden_sizes": [16]},
    "data": {"train_path": "builtin:iris", "batch_size": 16},
    "training": {"epochs": 2, "learning_rate": 0.01},
    "checkpointing": {"monitor": "val_loss", "mode": "max", "save_every_n_epochs": 1},
    "logging": {"progress_bar": "off", "tensorboard": False},
}


def test_files_due_together_are_serialised_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves: list[str] = []
    real_save = torch.save

    def counting_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        saves.append(getattr(f, "name", str(f)))
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", counting_save)
    # mode max on val_loss: whatever the loss does, epoch 1 sets the best and at least one
    # of the two epochs saves best.pth, epoch_NNN.pth and last.pth from the same state
    result = trainforge.fit(CONFIG, output=tmp_path / "run")
    folder = result.run_dir / "checkpoints"
    assert len(saves) == 2, saves  # one serialisation per epoch end, not one per file
    first = [folder / "epoch_001.pth", folder / "last.pth"]
    assert (folder / "epoch_002.pth").read_bytes() == (folder / "last.pth").read_bytes()
    best = folder / "best.pth"
    assert best.read_bytes() in {first[0].read_bytes(), (folder / "epoch_002.pth").read_bytes()}
    for path in folder.glob("*.pth"):
        assert verify_checkpoint(path)[0], path
    assert load_checkpoint(best)["trainer"]["epoch"] in (1, 2)
    assert not list(folder.glob(".*"))  # no temporary file left behind


def test_a_copy_replaces_atomically_and_names_a_full_disk(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(50_000, dtype=torch.float32)}}
    source = save_checkpoint(state, tmp_path / "last.pth")
    with small_tmpfs(tmp_path / "disk", "160k") as disk:
        old = save_checkpoint({"model": {"w": torch.zeros(3)}}, disk / "best.pth")
        with pytest.raises(CheckpointError) as caught:
            write_checkpoint(state, old, copy_of=source)
        message = str(caught.value)
        assert "no space left on device" in message and "previous checkpoint is intact" in message
        assert load_checkpoint(old)["model"]["w"].tolist() == [0.0, 0.0, 0.0]
        assert os.listdir(disk) == ["best.pth"]
    copied = write_checkpoint(state, tmp_path / "best.pth", copy_of=source)
    assert copied.read_bytes() == source.read_bytes() and verify_checkpoint(copied)[0]
