"""A failed save never harms the previous checkpoint and leaves no temporary file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from disks import small_tmpfs

from trainforge.checkpoint import load_checkpoint, save_checkpoint
from trainforge.errors import CheckpointError


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem, so "disk full" is the kernel's ENOSPC, not a simulation."""
    with small_tmpfs(tmp_path / "disk", "1m") as mount_point:
        yield mount_point


def test_disk_full_keeps_the_previous_checkpoint(tiny_disk: Path) -> None:
    path = tiny_disk / "last.pth"
    save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)

    with pytest.raises(CheckpointError) as raised:
        save_checkpoint({"step": 2, "w": torch.ones(1_000_000)}, path)  # 4 MB on a 1 MiB disk
    message = str(raised.value)
    assert message == (
        f"could not write checkpoint {path}: no space left on device; "
        "the previous checkpoint is intact"
    )
    assert load_checkpoint(path)["step"] == 1
    assert os.listdir(tiny_disk) == ["last.pth"]


def test_disk_full_on_a_first_save_writes_nothing(tiny_disk: Path) -> None:
    path = tiny_disk / "best.pth"
    with pytest.raises(CheckpointError, match="no space left on device; no file was written"):
        save_checkpoint({"w": torch.ones(1_000_000)}, path)
    assert os.listdir(tiny_disk) == []


def test_a_crash_inside_torch_save_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint({"step": 1}, tmp_path / "last.pth")
    seen: list[str] = []

    def half_write(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(handle.name)
        handle.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(torch, "save", half_write)
    with pytest.raises(CheckpointError, match="simulated crash; the previous checkpoint is intact"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()

    # Written beside the target under an obviously temporary name, then cleaned up.
    assert seen == [str(tmp_path / f".last.pth.tmp-{os.getpid()}")]
    assert os.listdir(tmp_path) == ["last.pth"]
    assert load_checkpoint(path)["step"] == 1


def test_an_interrupt_during_save_propagates_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint({"step": 1}, tmp_path / "last.pth")

    def interrupted(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["last.pth"]
    assert load_checkpoint(path)["step"] == 1
