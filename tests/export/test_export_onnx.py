"""ONNX export of a CNN trained on builtin:digits (images [1, 8, 8], raw pixels 0..16)."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime
import pytest
import torch
from export_testing import TINY_CNN, last_checkpoint, max_diff, train

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.export import export_checkpoint
from trainforge.data import load_raw_inputs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    return last_checkpoint(train(folder, TINY_CNN, {"train_path": "builtin:digits"}))


def run_onnx(path: Path, inputs: torch.Tensor) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": inputs.numpy()})[0])


def test_onnx_with_preprocessing_takes_raw_pixels(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "deploy" / "model.onnx"  # parent does not exist yet
    result = export_checkpoint(checkpoint, "onnx", output)
    assert sorted(p.name for p in output.parent.iterdir()) == ["model.onnx", "model.onnx.json"]
    printed = capsys.readouterr().out
    assert "verified with onnxruntime" in printed and "batch 7" in printed

    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs("builtin:digits", model.spec)  # real data as in the files
    for n in (1, 7, 33):
        with torch.inference_mode():
            expected = model(raw[:n])
        assert max_diff(run_onnx(output, raw[:n]), expected) < 1e-4
    random = torch.randint(0, 17, (33, 1, 8, 8)).float()
    with torch.inference_mode():
        assert max_diff(run_onnx(output, random), model(random)) < 1e-4

    sidecar = json.loads((tmp_path / "deploy" / "model.onnx.json").read_text())
    assert sidecar == {k: v for k, v in result.items() if k != "sidecar"}
    assert sidecar["format"] == "onnx" and sidecar["files"] == ["model.onnx"]
    assert sidecar["preprocessing_included"] is True
    (entry,) = sidecar["inputs"]
    assert entry["name"] == "input" and entry["shape"] == ["batch", 1, 8, 8]
    assert entry["dtype"] == "float32" and entry["space"] == "raw"
    assert "0..16" in entry["meaning"]
    assert sidecar["outputs"][0]["name"] == "logits"
    assert sidecar["outputs"][0]["shape"] == ["batch", 10]
    assert sidecar["class_names"] == [str(i) for i in range(10)]
    assert sidecar["onnx_opset"] >= 18
    assert sidecar["versions"]["torch"] == torch.__version__
    assert sidecar["versions"]["runtime"].startswith("onnxruntime ")
    source = sidecar["source_checkpoint"]
    assert source["checksum"] == load_checkpoint(checkpoint)["checksum"]
    assert source["path"] == str(checkpoint) and "val_accuracy" in source["metrics"]
    check = sidecar["verification"]
    assert check["passed"] is True and check["batch_sizes"] == [1, 7]
    assert [r["batch_size"] for r in check["results"]] == [1, 7]
    assert 0 <= check["max_abs_diff"] < 1e-4
    assert all(r["tolerance"] >= 1e-4 for r in check["results"])
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic, not 2


def test_onnx_without_preprocessing_takes_model_inputs(checkpoint: Path, tmp_path: Path) -> None:
    output = tmp_path / "bare.onnx"
    result = export_checkpoint(checkpoint, "onnx", output, preprocessing=False, echo=None)
    assert result["preprocessing_included"] is False
    assert result["inputs"][0]["space"] == "preprocessed"
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs("builtin:digits", model.spec)
    with torch.inference_mode():
        inputs = model.preprocess(raw[:7])
        expected = model.network(inputs)
        assert max_diff(run_onnx(output, inputs), expected) < 1e-4
        # fed raw pixels, the bare network disagrees with the full model: no preprocessing inside
        assert max_diff(run_onnx(output, raw[:7]), model(raw[:7])) > 1e-2
