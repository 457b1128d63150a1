"""The spec and preprocessing module reproduce the training tensors from raw files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from data_testing import build, stacked
from fixtures import make_digits_csv, make_image_folder, make_tabular_csv

from trainforge.data import InputSpec, build_preprocess, load_raw_inputs
from trainforge.data.split import split_indices
from trainforge.errors import DataError


def assert_preprocess_matches_training(path: Path | str, **fields: object) -> InputSpec:
    """Training on the whole file (it is also the validation file) in file order."""
    bundle = build(path, shuffle=False, val_path=str(path), **fields)  # type: ignore[arg-type]
    x_train, y_train = stacked(bundle.train)
    raw, targets = load_raw_inputs(str(path), bundle.spec)
    with torch.no_grad():
        x = build_preprocess(bundle.spec)(raw)
    assert torch.equal(x, x_train)
    assert targets is not None and torch.equal(targets, y_train)
    return bundle.spec


def test_tabular_csv(iris_csv: Path) -> None:
    spec = assert_preprocess_matches_training(iris_csv)
    assert len(spec.preprocessing["mean"]) == 4


def test_pixel_csv(tmp_path: Path) -> None:
    path = make_digits_csv(tmp_path / "d.csv", n=300)
    raw, _ = load_raw_inputs(str(path), assert_preprocess_matches_training(path))
    assert raw.shape == (300, 64)  # rows as in the file; the module reshapes


def test_image_folder(image_folder: Path) -> None:
    spec = assert_preprocess_matches_training(image_folder)
    raw, _ = load_raw_inputs(str(image_folder), spec)
    assert raw.shape[1:] == (3, 16, 16) and raw.max() <= 255 and raw.max() > 1


def test_resized_grayscale_folder(tmp_path: Path) -> None:
    root = make_image_folder(
        tmp_path / "g", n_per_class=3, size=20, grayscale=True, classes=["0", "1"]
    )
    spec = assert_preprocess_matches_training(
        root, augmentation={"resize": 12, "normalize": "imagenet"}
    )
    assert spec.shape == [1, 12, 12]


def test_builtin_digits_raw_values_and_split_rows() -> None:
    bundle = build("builtin:digits", shuffle=False)
    raw, targets = load_raw_inputs("builtin:digits", bundle.spec)
    assert raw.shape == (1797, 1, 8, 8) and raw.max() == 16
    assert targets is not None
    train_rows, val_rows = split_indices(1797, 0.1, 0, targets.numpy())
    with torch.no_grad():
        x = build_preprocess(bundle.spec)(raw)
    assert torch.equal(stacked(bundle.train)[0], x[torch.from_numpy(train_rows)])
    assert bundle.val is not None
    assert torch.equal(stacked(bundle.val)[0], x[torch.from_numpy(val_rows)])


def test_raw_csv_without_target_and_unknown_class(tmp_path: Path, iris_csv: Path) -> None:
    spec = build(iris_csv).spec
    no_target = tmp_path / "features.csv"
    lines = iris_csv.read_text().splitlines()
    no_target.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    raw, targets = load_raw_inputs(str(no_target), spec)
    assert raw.shape == (150, 4) and targets is None
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("\n".join(lines[:3]).replace("setosa", "daisy") + "\n")
    with pytest.raises(DataError, match="class\\(es\\) daisy do not occur"):
        load_raw_inputs(str(unknown), spec)


def test_raw_flat_image_folder(image_folder: Path, tmp_path: Path) -> None:
    spec = build(image_folder).spec
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, f in enumerate(sorted((image_folder / "2").iterdir())):
        (flat / f"img{i}.png").write_bytes(f.read_bytes())
    raw, targets = load_raw_inputs(str(flat), spec)
    assert raw.shape == (6, 3, 16, 16) and targets is None


def test_raw_regression_targets(tmp_path: Path) -> None:
    path = make_tabular_csv(tmp_path / "diabetes.csv", "diabetes")
    spec = assert_preprocess_matches_training(path)
    _, targets = load_raw_inputs(str(path), spec)
    assert targets is not None and targets.dtype == torch.float32


def test_raw_inputs_wrong_kind(image_folder: Path, iris_csv: Path) -> None:
    tabular = build(iris_csv).spec
    with pytest.raises(DataError, match="an image folder cannot feed this model"):
        load_raw_inputs(str(image_folder), tabular)
    with pytest.raises(DataError, match="expects \\[4\\]"):
        load_raw_inputs("builtin:wine", tabular)


def test_spec_round_trip_and_weights_only_load(image_folder: Path) -> None:
    for spec in (
        build(image_folder).spec,
        build("builtin:iris").spec,
        build("builtin:diabetes").spec,
    ):
        d = spec.to_dict()
        assert InputSpec.from_dict(d) == spec
        buffer = io.BytesIO()
        torch.save({"input_spec": d}, buffer)
        buffer.seek(0)
        assert torch.load(buffer, weights_only=True)["input_spec"] == d


def test_to_dict_has_only_plain_types() -> None:
    spec = InputSpec(
        kind="tabular",
        shape=[2],
        task="classification",
        num_classes=2,
        class_names=["a", "b"],
        feature_names=["x", "y"],
        source_format="csv",
        target_column="label",
        preprocessing={"mean": [np.float32(1.5), 2.0], "std": (np.float64(1.0), 1.0)},
    )
    d = spec.to_dict()
    assert d["preprocessing"] == {"mean": [1.5, 2.0], "std": [1.0, 1.0]}
    assert all(type(v) is float for v in d["preprocessing"]["mean"])


def test_preprocess_module_is_plain_tensor_ops(digits_csv: Path, iris_csv: Path) -> None:
    for path in (digits_csv, iris_csv):
        spec = build(path).spec
        module = build_preprocess(spec).eval()
        raw, _ = load_raw_inputs(str(path), spec)
        traced = torch.fx.symbolic_trace(module)  # no data-dependent Python control flow
        assert torch.equal(traced(raw[:5]), module(raw[:5]))
        assert {"mean", "std"} <= set(dict(module.named_buffers()))


@pytest.mark.slow  # the first torch.export in a process costs ~2 s of imports
def test_preprocess_module_exports_with_dynamic_batch(digits_csv: Path, image_folder: Path) -> None:
    for path in (digits_csv, image_folder, "builtin:wine"):
        spec = build(path).spec
        module = build_preprocess(spec).eval()
        raw, _ = load_raw_inputs(str(path), spec)
        batch = torch.export.Dim("batch")
        exported = torch.export.export(module, (raw[:4],), dynamic_shapes=({0: batch},))
        assert torch.equal(exported.module()(raw[:7]), module(raw[:7]))
