"""--export through checkpoint_manager.py (the exporters themselves are tested elsewhere), and
export verification results reaching the registry's model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from manager_testing import call, cli, train

pytest.importorskip("trainforge.ckpt.export")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    train(root / "final_model_v1")
    return root


def test_spec_workflow_2_step_5_verbatim(workdir: Path) -> None:
    proc = cli(
        "--export",
        "--checkpoint", "final_model_v1/checkpoints/best.pth",
        "--format", "pytorch",
        "--output", "model_v1.pth",
        cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "model_v1.pth").is_file()
    assert "max |exported - pytorch| batch 1: 0, batch 7: 0" in proc.stdout


def test_exporting_a_registered_version_updates_its_card(
    workdir: Path, capsys: Any, monkeypatch: Any
) -> None:
    code, _, err = call(
        "--register", "--checkpoint", "final_model_v1/checkpoints/best.pth", "--name", "digits",
        "--registry", "reg", cwd=workdir, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = call(
        "--export", "--checkpoint", "reg/digits_v1.0.0/checkpoint.pth", "--format", "onnx",
        "--output", "exports/digits.onnx", cwd=workdir, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    assert "model card of digits@1.0.0" in out
    card = (workdir / "reg" / "digits_v1.0.0" / "model_card.md").read_text()
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    (check,) = meta["export_verification"]
    assert check["format"] == "onnx" and check["passed"] is True
    assert check["max_abs_diff"] < 1e-3
    index = json.loads((workdir / "reg" / "registry.json").read_text())
    assert index["models"]["digits"]["versions"]["1.0.0"]["exports"][0]["format"] == "onnx"

    # A sidecar can also come with a registration.
    code, _, err = call(
        "--register", "--checkpoint", "final_model_v1/checkpoints/last.pth", "--name", "digits",
        "--registry", "reg", "--force", "--export_report", "exports/digits.onnx.json",
        cwd=workdir, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    card = (workdir / "reg" / "digits_v1.1.0" / "model_card.md").read_text()
    assert "export_verification" in card and "onnx" in card


def test_spec_onnx_export_command_verbatim(workdir: Path) -> None:
    run = workdir / "final_model_v1"
    proc = cli(
        "--export", "--checkpoint", "checkpoints/best.pth", "--format", "onnx",
        "--output", "model.onnx", cwd=run,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (run / "model.onnx").is_file() and (run / "model.onnx.json").is_file()
    assert "model card" not in proc.stdout  # not a registered checkpoint
