"""Damaged, malicious and unwritable checkpoints around a resume: clear one-line errors,
a fallback with a warning, and the previous checkpoint always intact."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from disks import small_tmpfs
from resume_testing import assert_same_weights, config, write_config

import trainforge
from trainforge.checkpoint.format import is_valid_checkpoint, load_checkpoint
from trainforge.cli.main import main
from trainforge.train.hooks import Hook, RunState


class Preempted(Exception):
    pass


class CrashAtStep(Hook):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, state: RunState) -> None:
        if state.global_step == self.step:
            raise Preempted


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    text = capsys.readouterr().err
    assert "Traceback" not in text
    err = [line for line in text.splitlines() if line.startswith("trainforge: error:")]
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config file, run folder) of a run killed in epoch 3; checkpoints at epochs 1, 2."""
    root = tmp_path_factory.mktemp("stopped")
    cfg = config(checkpointing={"save_every_n_steps": None, "save_every_n_epochs": 1})
    path = write_config(root / "digits.yaml", cfg)
    with pytest.raises(Preempted):
        trainforge.fit(path, output=root / "run", hooks=[CrashAtStep(60)])
    return path, root / "run"


def flip_a_byte(path: Path, at: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped"])
def test_resume_from_a_damaged_file_is_one_clear_line(
    stopped_run: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    _, run = stopped_run
    bad = tmp_path / "bad.pth"
    shutil.copy(run / "checkpoints" / "last.pth", bad)
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:
        flip_a_byte(bad)
    code = main(["train", "--resume", str(bad), "--output", str(tmp_path / "out")])
    line = one_error_line(capsys)
    assert code == 2 and str(bad) in line
    assert "damaged" in line or "checksum" in line


def test_resume_auto_skips_a_damaged_newest_file_with_a_warning(
    stopped_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, original = stopped_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    flip_a_byte(run / "checkpoints" / "last.pth")
    code = main(["train", "--config", str(path), "--output", str(run), "--resume", "auto"])
    err = capsys.readouterr().err
    assert code == 0
    warning = next(line for line in err.splitlines() if "skipped" in line)
    assert "WARN" in warning and str(run / "checkpoints" / "last.pth") in warning
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["resumed_from"]["path"].endswith("epoch_002.pth")
    reference = trainforge.fit(path, output=tmp_path / "reference").run_dir
    assert_same_weights(reference, run)


class Evil:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_a_malicious_pickle_is_refused_and_never_runs(
    stopped_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"model": Evil(marker), "format_version": 1}, evil)
    code = main(["train", "--resume", str(evil), "--output", str(tmp_path / "out")])
    line = one_error_line(capsys)
    assert code == 2 and "refuses to load" in line and str(evil) in line
    # Planted as the newest checkpoint of a run, --resume auto passes over it.
    path, original = stopped_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    shutil.copy(evil, run / "checkpoints" / "last.pth")
    assert main(["train", "--config", str(path), "--output", str(run), "--resume", "auto"]) == 0
    assert "refuses to load" in capsys.readouterr().err
    assert not marker.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 160 KiB tmpfs: room for one checkpoint, not for its replacement beside it."""
    with small_tmpfs(tmp_path / "disk", "160k") as mount_point:
        yield mount_point


def test_a_full_disk_fails_clearly_and_keeps_the_previous_checkpoint(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(
        checkpointing={"save_dir": str(small_disk), "save_best": False, "save_every_n_steps": 5}
    )
    path = write_config(tmp_path / "digits.yaml", cfg)
    run = tmp_path / "run"
    code = main(["train", "--config", str(path), "--output", str(run)])
    line = one_error_line(capsys)
    assert code == 2
    assert "last.pth" in line and "no space left on device" in line.lower()
    assert "previous checkpoint is intact" in line
    last = small_disk / "last.pth"
    assert is_valid_checkpoint(last) and load_checkpoint(last)["trainer"]["global_step"] == 5
    assert [p.name for p in small_disk.iterdir()] == ["last.pth"]  # no temporary file left
    assert json.loads((run / "metadata.json").read_text())["status"] == "failed"


def test_resume_auto_starts_fresh_after_a_kill_before_any_checkpoint(tmp_path: Path) -> None:
    cfg = config(training={"epochs": 1}, checkpointing={"save_every_n_steps": None})
    run = tmp_path / "run"
    with pytest.raises(Preempted):
        trainforge.fit(cfg, output=run, hooks=[CrashAtStep(3)])
    assert not list((run / "checkpoints").glob("*.pth"))
    result = trainforge.fit(cfg, resume="auto", output=run)
    assert result.status == "completed" and result.global_step == 26
    # A finished run is never wiped by it: it resumes (and has nothing left to do).
    again = trainforge.fit(cfg, resume="auto", output=run)
    assert again.status == "completed" and again.global_step == 26
