"""torch.export (.pt2) and TorchScript exports of a CNN trained on a pixel CSV (flat rows)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from export_testing import TINY_CNN, last_checkpoint, max_diff, train
from fixtures import make_digits_csv

import trainforge
from trainforge.ckpt.export import export_checkpoint
from trainforge.data import load_raw_inputs


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("torch")
    csv = make_digits_csv(folder / "pixels.csv", n=400, with_names=True)
    return last_checkpoint(train(folder, TINY_CNN, {"train_path": str(csv)})), csv


def test_pt2_reloads_with_a_dynamic_batch_of_flat_pixel_rows(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, csv = trained
    output = tmp_path / "model.pt2"
    result = export_checkpoint(checkpoint, "torch_export", output, echo=None)
    assert result["inputs"][0]["shape"] == ["batch", 64]  # as in the CSV: one row per image
    assert "flat pixel rows" in result["inputs"][0]["meaning"]
    assert result["class_names"][:2] == ["eight", "five"]  # sorted label words
    assert result["verification"]["runtime"].startswith("torch ")

    program = torch.export.load(str(output)).module()
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs(str(csv), model.spec)
    assert raw.shape[1:] == (64,)
    with torch.inference_mode():
        for n in (1, 7, 33):
            assert max_diff(program(raw[:n]), model(raw[:n])) < 1e-5


def test_torchscript_reloads_and_says_it_is_deprecated(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, csv = trained
    output = tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # torch.jit's own warnings stay inside
        export_checkpoint(checkpoint, "torchscript", output)
    assert "deprecated TorchScript" in capsys.readouterr().out
    sidecar = json.loads((tmp_path / "model.pt.json").read_text())
    assert any("deprecated" in n for n in sidecar["notices"])
    assert sidecar["verification"]["passed"] is True

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(output))
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs(str(csv), model.spec)
    with torch.inference_mode():
        for n in (1, 7, 33):
            assert max_diff(scripted(raw[:n]), model(raw[:n])) < 1e-5
