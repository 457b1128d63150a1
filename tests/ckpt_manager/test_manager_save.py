"""--save: a full checkpoint from separate state-dict files, usable by load_model and --resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from manager_testing import assert_one_line_error, call, cli, train

import trainforge
from trainforge.checkpoint.format import load_checkpoint


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.pth, optimizer.pth and config.yaml as a user has them after plain PyTorch work."""
    root = tmp_path_factory.mktemp("save")
    result = train(root / "run")
    state = load_checkpoint(result.run_dir / "checkpoints" / "last.pth")
    folder = root / "parts"
    folder.mkdir()
    torch.save(state["model"], folder / "model.pth")
    torch.save(state["optimizer"], folder / "optimizer.pth")
    shutil.copy(result.run_dir / "config.yaml", folder / "config.yaml")
    return folder


@pytest.fixture
def work(parts: Path, tmp_path: Path) -> Path:
    shutil.copytree(parts, tmp_path / "w")
    return tmp_path / "w"


def test_spec_save_command_builds_a_loadable_resumable_checkpoint(work: Path) -> None:
    proc = cli(
        "--save", "--model", "model.pth", "--optimizer", "optimizer.pth",
        "--config", "config.yaml", "--output", "checkpoints/", cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    target = work / "checkpoints" / "checkpoint.pth"
    state = load_checkpoint(target)  # weights-only, checksum verified
    weights = torch.load(work / "model.pth", weights_only=True)
    assert all(torch.equal(state["model"][k], v) for k, v in weights.items())
    assert state["optimizer"]["state"], "the optimizer moments were kept"
    assert state["input_spec"]["shape"] == [1, 8, 8]
    assert state["lineage"]["assembled_from"]["model"].endswith("model.pth")

    model = trainforge.load_model(target)
    digits = torch.rand(3, 1, 8, 8) * 16
    assert model.predict(digits).shape == (3,)

    result = trainforge.fit(
        None,  # type: ignore[arg-type]  # the checkpoint's config is used on resume
        {"training.epochs": 1},
        resume=target,
        output=work / "resumed",
    )
    assert result.status == "completed" and result.epochs_completed == 1


def test_output_may_name_the_file_and_optimizer_is_optional(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    code, out, _ = call(
        "--save", "--model", "model.pth", "--config", "config.yaml", "--output", "mine.pth",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0 and "without optimizer state" in out
    state = load_checkpoint(work / "mine.pth")
    assert state["optimizer"]["state"] == {}


def test_wrapped_state_dicts_are_unwrapped(work: Path, capsys: Any, monkeypatch: Any) -> None:
    weights = torch.load(work / "model.pth", weights_only=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in weights.items()}}, work / "ddp.pth")
    code, _, err = call(
        "--save", "--model", "ddp.pth", "--config", "config.yaml", "--output", "out",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    assert (work / "out" / "checkpoint.pth").is_file()


def test_weights_of_another_model_list_the_mismatches(work: Path) -> None:
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["model"]["channels"] = [4, 8]
    (work / "other.yaml").write_text(yaml.safe_dump(cfg))
    proc = cli(
        "--save", "--model", "model.pth", "--config", "other.yaml", "--output", "x/", cwd=work
    )
    assert_one_line_error(proc, "shape mismatch", "vs model", "other.yaml")
    assert not (work / "x" / "checkpoint.pth").exists()


def test_unavailable_data_and_wrong_optimizer_are_clear_errors(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["data"]["train_path"] = "data/missing.csv"
    (work / "nodata.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = call(
        "--save", "--model", "model.pth", "--config", "nodata.yaml", "--output", "x",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "--save needs the data" in err and "missing.csv" in err

    net = torch.nn.Linear(2, 2)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.save(sgd.state_dict(), work / "sgd.pth")
    code, _, err = call(
        "--save", "--model", "model.pth", "--optimizer", "sgd.pth", "--config", "config.yaml",
        "--output", "x", cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "another optimizer" in err and "betas" in err

    code, _, err = call(
        "--save", "--model", "model.pth", cwd=work, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "--config and --output" in err
