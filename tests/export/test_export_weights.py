"""Iris (tabular CSV, string labels, mlp): weight files, export errors, CSV predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from export_testing import TINY_MLP, last_checkpoint, max_diff, train
from fixtures import make_tabular_csv

import trainforge
from trainforge.ckpt.export import FORMATS, export_checkpoint
from trainforge.ckpt.export._weights import PytorchExporter
from trainforge.errors import CheckpointError, ExportError, UsageError
from trainforge.models import build_model

IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    csv = make_tabular_csv(folder / "iris.csv", "iris")
    return last_checkpoint(train(folder, TINY_MLP, {"train_path": str(csv)}))


def fresh_network(checkpoint: Path) -> torch.nn.Module:
    """What a user does with a weight file: build the architecture, then load the tensors."""
    loaded = trainforge.load_model(checkpoint)
    return build_model(loaded.config.model, loaded.spec).eval()


@pytest.mark.parametrize("fmt", ["pytorch", "safetensors"])
def test_weight_files_reload_into_a_fresh_model(
    checkpoint: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / f"model.{fmt}"
    result = export_checkpoint(checkpoint, fmt, output)
    assert "weights only" in capsys.readouterr().out
    state = (
        torch.load(output, weights_only=True)
        if fmt == "pytorch"
        else safetensors.torch.load_file(str(output))
    )
    network = fresh_network(checkpoint)
    network.load_state_dict(state)
    model = trainforge.load_model(checkpoint)
    rows = model.spec.preprocessing["mean"]
    raw = torch.tensor([rows, [5.9, 3.0, 5.1, 1.8], [4.6, 3.4, 1.4, 0.3]], dtype=torch.float32)
    with torch.inference_mode():
        assert max_diff(network(model.preprocess(raw)), model(raw)) == 0.0

    sidecar = json.loads(output.with_name(output.name + ".json").read_text())
    assert sidecar["preprocessing_included"] is False  # a weight file holds the network only
    assert sidecar["inputs"][0]["space"] == "preprocessed"
    assert sidecar["inputs"][0]["shape"] == ["batch", 4]
    assert sidecar["feature_names"] == IRIS_FEATURES
    assert sidecar["inputs"][0]["columns"] == IRIS_FEATURES
    assert sidecar["class_names"] == ["setosa", "versicolor", "virginica"]
    assert len(sidecar["preprocessing"]["mean"]) == 4
    assert result["verification"]["max_abs_diff"] == 0.0


def test_tabular_graph_export_standardises_raw_rows(checkpoint: Path, tmp_path: Path) -> None:
    output = tmp_path / "iris.pt2"
    result = export_checkpoint(checkpoint, "torch_export", output, echo=None)
    assert result["inputs"][0]["space"] == "raw" and result["inputs"][0]["shape"] == ["batch", 4]
    program = torch.export.load(str(output)).module()
    model = trainforge.load_model(checkpoint)
    raw = torch.tensor([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] * 5)
    with torch.inference_mode():
        assert max_diff(program(raw), model(raw)) < 1e-5


def test_unknown_format_lists_the_valid_ones(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        export_checkpoint(checkpoint, "tflite", tmp_path / "m.tflite")
    assert all(name in str(caught.value) for name in FORMATS)
    assert not (tmp_path / "m.tflite").exists()


def test_missing_and_damaged_checkpoints(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        export_checkpoint(tmp_path / "none.pth", "onnx", tmp_path / "m.onnx")
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(checkpoint.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="damaged"):
        export_checkpoint(damaged, "pytorch", tmp_path / "m.pth")


def test_output_problems_are_usage_errors(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.pt2"):
        export_checkpoint(checkpoint, "torch_export", tmp_path / "model.pt", echo=None)
    with pytest.raises(UsageError, match="folder"):
        export_checkpoint(checkpoint, "pytorch", tmp_path, echo=None)


def test_a_mismatching_export_is_an_error_and_removed(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PytorchExporter.load_and_run

    def drifted(self: PytorchExporter, path: Path, inputs: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(original(self, path, inputs)) + 1e-2

    monkeypatch.setattr(PytorchExporter, "load_and_run", drifted)
    output = tmp_path / "model.pth"
    with pytest.raises(ExportError, match=r"batch size 1 \(max \|diff\| 0.01 > 0.0001"):
        export_checkpoint(checkpoint, "pytorch", output, echo=None)
    assert not output.exists() and not output.with_name("model.pth.json").exists()


def test_a_weight_the_file_lacks_is_caught(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def incomplete(self: PytorchExporter, path: Path) -> dict[str, torch.Tensor]:
        state = torch.load(path, weights_only=True)
        state.pop(next(iter(state)))
        return state

    monkeypatch.setattr(PytorchExporter, "read_state", incomplete)
    with pytest.raises(ExportError, match="do not load"):
        export_checkpoint(checkpoint, "pytorch", tmp_path / "model.pth", echo=None)


def test_predict_csv_has_ids_class_names_and_probabilities(
    checkpoint: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from trainforge.predict import predict_file

    csv = make_tabular_csv(tmp_path / "rows.csv", "iris", n=60)
    summary = predict_file(checkpoint, csv, tmp_path / "out" / "preds.csv", batch_size=16)
    frame = pd.read_csv(tmp_path / "out" / "preds.csv")
    names = ["setosa", "versicolor", "virginica"]
    assert summary["rows"] == 60 and list(frame.columns) == [
        "id",
        "class_index",
        "class_name",
        *[f"prob_{n}" for n in names],
    ]
    assert frame["id"].tolist() == list(range(60))
    probs = frame[[f"prob_{n}" for n in names]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-6
    assert (frame["class_index"] == probs.argmax(axis=1)).all()
    assert frame["class_name"].tolist() == [names[i] for i in frame["class_index"]]
    model = trainforge.load_model(checkpoint)
    raw = torch.tensor(pd.read_csv(csv)[IRIS_FEATURES].to_numpy(), dtype=torch.float32)
    assert max_diff(probs, model.predict_proba(raw)) < 1e-6
