"""A regression model (builtin:diabetes, mlp): evaluate, predict and a graph export."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from export_testing import TINY_MLP, last_checkpoint, max_diff, train

import trainforge
from trainforge.ckpt.export import export_checkpoint
from trainforge.cli.main import main
from trainforge.data import load_raw_inputs
from trainforge.evaluate import evaluate_checkpoint
from trainforge.predict import predict_file


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("regression")
    return last_checkpoint(train(folder, TINY_MLP, {"train_path": "builtin:diabetes"}, epochs=3))


def test_evaluate_reports_regression_metrics(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = evaluate_checkpoint(checkpoint, "builtin:diabetes")
    metrics = result["metrics"]
    assert set(metrics) == {"loss", "mse", "mae", "rmse", "r2"}
    assert metrics["loss"] == pytest.approx(metrics["mse"], rel=1e-6)
    assert metrics["rmse"] == pytest.approx(math.sqrt(metrics["mse"]))
    assert result["num_samples"] == 442 and "confusion_matrix" not in result
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", "builtin:diabetes"]
    assert (
        main([*args, "--output", str(tmp_path / "m.json"), "--plot", str(tmp_path / "cm.png")]) == 0
    )
    assert "no confusion matrix" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["metrics"]["r2"] == metrics["r2"]
    assert not (tmp_path / "cm.png").exists()


def test_predict_writes_one_value_per_row(checkpoint: Path, tmp_path: Path) -> None:
    predict_file(checkpoint, "builtin:diabetes", tmp_path / "p.csv", batch_size=100)
    frame = pd.read_csv(tmp_path / "p.csv")
    assert list(frame.columns) == ["id", "prediction"] and len(frame) == 442
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs("builtin:diabetes", model.spec)
    assert max_diff(frame["prediction"].to_numpy(), model.predict(raw)) < 1e-3


def test_pt2_of_a_regression_model(checkpoint: Path, tmp_path: Path) -> None:
    result = export_checkpoint(checkpoint, "torch_export", tmp_path / "m.pt2", echo=None)
    assert result["outputs"][0]["name"] == "prediction"
    assert result["outputs"][0]["shape"] == ["batch", 1]
    program = torch.export.load(str(tmp_path / "m.pt2")).module()
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs("builtin:diabetes", model.spec)
    with torch.inference_mode():
        assert max_diff(program(raw[:33]), model(raw[:33])) < 1e-4


@pytest.mark.slow
def test_onnx_of_a_regression_model(checkpoint: Path, tmp_path: Path) -> None:
    import onnxruntime

    export_checkpoint(checkpoint, "onnx", tmp_path / "m.onnx", echo=None)
    session = onnxruntime.InferenceSession(
        str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]
    )
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs("builtin:diabetes", model.spec)
    out = session.run(None, {"input": raw[:33].numpy()})[0]
    with torch.inference_mode():
        assert max_diff(out, model(raw[:33])) < 1e-3
