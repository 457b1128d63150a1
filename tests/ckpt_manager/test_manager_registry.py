"""The registry: versions, folders per DESIGN.md, duplicates, aliases, model card, test set."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from manager_testing import assert_one_line_error, call, cli, config, read_json, train

import trainforge
from trainforge.ckpt.registry import Registry
from trainforge.ckpt.version_folder import FILES


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("registry") / "run"
    train(out, config(data={"test_path": "builtin:digits"}))
    return out


@pytest.fixture
def work(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path


def register(work: Path, capsys: Any, monkeypatch: Any, *args: str) -> tuple[int, str, str]:
    return call("--register", *args, cwd=work, capsys=capsys, monkeypatch=monkeypatch)


def test_register_writes_the_design_layout_and_index(work: Path) -> None:
    proc = cli(
        "--register", "--checkpoint", "run/checkpoints/best.pth", "--name", "model", cwd=work
    )
    assert proc.returncode == 0, proc.stderr
    assert "registered model@1.0.0" in proc.stdout
    folder = work / "models" / "model_v1.0.0"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert (folder / "checkpoint.pth").read_bytes() == (
        work / "run/checkpoints/best.pth"
    ).read_bytes()
    assert "epoch 2/2" in (folder / "training_log.txt").read_text()
    assert (
        yaml.safe_load((folder / "config.yaml").read_text())["model"]["architecture"]
        == "simple_cnn"
    )
    metrics = read_json(folder / "metrics.json")
    assert metrics["version"] == "1.0.0" and "val_accuracy" in metrics["metrics"]
    assert metrics["test"]["metrics"]["test_accuracy"] > 0.5  # data.test_path was evaluated
    index = read_json(work / "models" / "registry.json")
    entry = index["models"]["model"]["versions"]["1.0.0"]
    assert entry["path"] == "model_v1.0.0" and entry["checksum"].startswith("sha256:")
    assert entry["created"] and entry["parent"] is None and entry["run_id"]
    assert trainforge.load_model(folder / "checkpoint.pth").predict_proba is not None


def test_model_card_front_matter_and_sections(work: Path, capsys: Any, monkeypatch: Any) -> None:
    code, _, err = register(
        work, capsys, monkeypatch, "--checkpoint", "run/checkpoints/best.pth", "--name", "digits"
    )
    assert code == 0, err
    text = (work / "models" / "digits_v1.0.0" / "model_card.md").read_text()
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["name"] == "digits" and meta["version"] == "1.0.0"
    assert meta["library"] == "trainforge" and meta["architecture"] == "simple_cnn"
    assert meta["datasets"] == ["builtin:digits"]
    results = meta["model-index"][0]["results"]
    splits = {r["dataset"]["split"]: r for r in results}
    assert {"validation", "test"} <= set(splits)
    test_names = {m["name"] for m in splits["test"]["metrics"]}
    assert "test_accuracy" in test_names
    for section in (
        "## Model details",
        "## Intended use",
        "## Training data",
        "## Training procedure",
        "## Evaluation",
        "## Limitations",
    ):
        assert section in body
    assert "training.learning_rate | 0.001" in body and "1797 samples" in body


def test_versions_bumps_duplicates_and_force(work: Path, capsys: Any, monkeypatch: Any) -> None:
    best, last = "run/checkpoints/best.pth", "run/checkpoints/epoch_001.pth"
    assert register(work, capsys, monkeypatch, "--checkpoint", best, "--name", "d")[0] == 0
    code, _, err = register(work, capsys, monkeypatch, "--checkpoint", best, "--name", "d")
    assert code == 2 and "already registered as d@1.0.0" in err and "--force" in err
    code, out, _ = register(
        work, capsys, monkeypatch, "--checkpoint", best, "--name", "d", "--force", "--bump", "patch"
    )
    assert code == 0 and "d@1.0.1" in out
    code, out, _ = register(
        work, capsys, monkeypatch, "--checkpoint", last, "--name", "d", "--bump", "major"
    )
    assert code == 0 and "d@2.0.0" in out
    code, _, err = register(
        work, capsys, monkeypatch, "--checkpoint", last, "--name", "d", "--version", "2.0.0",
        "--force",
    )  # fmt: skip
    assert code == 2 and "already registered" in err
    code, out, _ = register(
        work, capsys, monkeypatch, "--checkpoint", last, "--name", "d", "--version", "1.5.0",
        "--force", "--no_evaluate",
    )  # fmt: skip
    assert code == 0 and "d@1.5.0" in out
    assert sorted(p.name for p in (work / "models").glob("d_v*")) == [
        "d_v1.0.0",
        "d_v1.0.1",
        "d_v1.5.0",
        "d_v2.0.0",
    ]


def test_list_show_promote(work: Path, capsys: Any, monkeypatch: Any) -> None:
    ckpt = "run/checkpoints/best.pth"
    register(work, capsys, monkeypatch, "--checkpoint", ckpt, "--name", "d", "--alias", "staging")
    register(
        work, capsys, monkeypatch, "--checkpoint", "run/checkpoints/epoch_001.pth", "--name", "d"
    )
    code, out, _ = call("--list_models", cwd=work, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "1.0.0" in out and "1.1.0" in out and "staging" in out

    code, out, _ = call(
        "--promote", "d@1.1.0", "--alias", "production", cwd=work, capsys=capsys,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0 and "d@production -> 1.1.0" in out
    code, out, _ = call("--show", "d@production", cwd=work, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and out.startswith("d@1.1.0") and "production" in out
    code, out, _ = call(
        "--show", "d@1.0.0", "--format", "json", cwd=work, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 0 and '"version": "1.0.0"' in out
    code, out, _ = call("--show", "d", cwd=work, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "1.0.0" in out and "1.1.0" in out

    card = (work / "models" / "d_v1.1.0" / "model_card.md").read_text()
    assert "| aliases | production |" in card

    code, _, err = call("--show", "d@9.9.9", cwd=work, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "1.0.0, 1.1.0, production, staging" in err
    code, _, err = call(
        "--promote", "d@1.0.0", "--alias", "2.0.0", cwd=work, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "alias" in err


def test_registry_flag_and_environment_variable(work: Path, capsys: Any, monkeypatch: Any) -> None:
    ckpt = "run/checkpoints/best.pth"
    register(work, capsys, monkeypatch, "--checkpoint", ckpt, "--name", "a", "--registry", "reg")
    assert (work / "reg" / "a_v1.0.0" / "checkpoint.pth").is_file()
    monkeypatch.setenv("TRAINFORGE_REGISTRY", str(work / "env_reg"))
    register(work, capsys, monkeypatch, "--checkpoint", ckpt, "--name", "b")
    assert (work / "env_reg" / "b_v1.0.0").is_dir()
    assert Registry().root == work / "env_reg"
    # model.pretrained finds the same folder.
    from trainforge.models import resolve_pretrained_path

    assert resolve_pretrained_path("registry:b@1.0.0") == work / "env_reg/b_v1.0.0/checkpoint.pth"


def test_user_mistakes_are_one_line_errors(work: Path, capsys: Any, monkeypatch: Any) -> None:
    # As a user runs it: one line on stderr, exit 2, no traceback.
    assert_one_line_error(
        cli("--register", "--checkpoint", "run/checkpoints/best.pth", "--name", "a/b", cwd=work),
        "not a valid model name",
    )
    assert_one_line_error(cli("--show", "ghost", cwd=work), "no model 'ghost'")
    for args, fragment in (
        (("--register", "--checkpoint", "nope.pth", "--name", "a"), "nope.pth"),
        (("--register", "--checkpoint", "run/checkpoints/best.pth"), "--name"),
        (("--list", "--save"), "not allowed with"),
        (("--lineage", "ghost@1.0.0"), "no model 'ghost'"),
        (("--list", "--checkpoint_dir", "run/checkpoints", "--format", "xml"), "--format xml"),
        (("--register", "--checkpoint", "run/checkpoints/best.pth", "--name", "a",
          "--version", "1.0"), "MAJOR.MINOR.PATCH"),
    ):  # fmt: skip
        code, out, err = call(*args, cwd=work, capsys=capsys, monkeypatch=monkeypatch)
        assert code == 2, (args, out, err)
        assert len(err.strip().splitlines()) == 1 and fragment in err, (args, err)
