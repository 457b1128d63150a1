"""--prune on a real run: keeps best N + newest M, never best*.pth or last.pth, asks first."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from manager_testing import call, cli, config, train


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prune") / "run"
    # Three epochs, a checkpoint every epoch, two monitors: best.pth and best_val_loss.pth.
    train(
        out,
        config(
            training={"epochs": 3},
            checkpointing={"monitor": ["val_accuracy", "val_loss"], "keep_top_k": 0},
        ),
    )
    return out


@pytest.fixture
def work(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def names(work: Path) -> set[str]:
    return {p.name for p in (work / "checkpoints").glob("*.pth")}


def test_without_yes_and_without_a_terminal_prints_the_plan_and_deletes_nothing(
    work: Path,
) -> None:
    before = names(work)
    proc = cli(
        "--prune", "--checkpoint_dir", "checkpoints/", "--keep_best", "1",
        "--metric", "val_accuracy", "--keep_last", "1", cwd=work,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "delete  epoch_001.pth" in proc.stdout
    assert "--yes" in proc.stderr and "Traceback" not in proc.stderr
    assert names(work) == before


def test_yes_deletes_all_but_the_best_newest_and_protected(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    assert {"best.pth", "best_val_loss.pth", "last.pth", "epoch_003.pth"} <= names(work)
    code, out, _ = call(
        "--prune", "--checkpoint-dir", "checkpoints", "--keep-best", "1", "--metric", "val_loss",
        "--keep-last", "0", "--yes", cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, out
    left = names(work)
    assert {"best.pth", "best_val_loss.pth", "last.pth"} <= left
    epochs = sorted(n for n in left if n.startswith("epoch_"))
    assert len(epochs) == 1, left
    assert "deleted" in out


def test_keep_last_only_keeps_the_newest(work: Path, capsys: Any, monkeypatch: Any) -> None:
    code, _, _ = call(
        "--prune", "--checkpoint_dir", "checkpoints", "--keep_last", "1", "--yes",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0
    assert sorted(n for n in names(work) if n.startswith("epoch_")) == ["epoch_003.pth"]


def test_damaged_files_are_left_alone(work: Path, capsys: Any, monkeypatch: Any) -> None:
    (work / "checkpoints" / "broken.pth").write_bytes(b"\x00" * 100)
    code, out, _ = call(
        "--prune", "--checkpoint_dir", "checkpoints", "--keep_last", "0", "--yes",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0 and "broken.pth" in names(work)
    assert "keep    broken.pth" in out


def test_prune_without_what_to_keep_is_a_usage_error(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    code, _, err = call(
        "--prune",
        "--checkpoint_dir",
        "checkpoints",
        cwd=work,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "--keep_best" in err


def test_a_users_own_copy_of_a_checkpoint_is_never_pruned(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    # A valid trainforge checkpoint under a name the trainer never gives: the user made it.
    shutil.copy(work / "checkpoints" / "epoch_001.pth", work / "checkpoints" / "my_backup.pth")
    code, out, _ = call(
        "--prune", "--checkpoint_dir", "checkpoints", "--keep_last", "0", "--yes",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0
    assert "keep    my_backup.pth  (not a name trainforge writes: yours)" in out
    assert "my_backup.pth" in names(work) and "epoch_001.pth" not in names(work)
