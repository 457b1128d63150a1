"""Each kind of data source becomes the right spec and batches."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from data_testing import build, collect, stacked
from fixtures import make_digits_csv, make_image_folder, make_tabular_csv, make_train_val_csvs
from torch.utils.data import TensorDataset

from trainforge.config.schema import DataConfig
from trainforge.data import build_data


@pytest.mark.parametrize(
    ("name", "kind", "shape", "task", "classes"),
    [
        ("digits", "image", [1, 8, 8], "classification", 10),
        ("iris", "tabular", [4], "classification", 3),
        ("wine", "tabular", [13], "classification", 3),
        ("breast_cancer", "tabular", [30], "classification", 2),
        ("diabetes", "tabular", [10], "regression", None),
    ],
)
def test_builtin_data_sets(
    name: str, kind: str, shape: list[int], task: str, classes: int | None
) -> None:
    bundle = build(f"builtin:{name}")
    spec = bundle.spec
    assert (spec.kind, spec.shape, spec.task, spec.num_classes) == (kind, shape, task, classes)
    assert spec.source_format == "builtin"
    x, y = next(bundle.train.epoch(0))
    assert list(x.shape[1:]) == shape and x.dtype == torch.float32
    assert y.dtype == (torch.int64 if task == "classification" else torch.float32)
    assert bundle.val is not None and bundle.test is None
    total = bundle.train.num_samples + bundle.val.num_samples
    assert bundle.val.num_samples == round(total * 0.1)


def test_builtin_digits_scaled_by_16_then_normalised() -> None:
    spec = build("builtin:digits").spec
    assert spec.preprocessing["pixel_scale"] == pytest.approx(1 / 16)
    assert spec.preprocessing["normalize"] == "dataset"
    x, _ = stacked(build("builtin:digits", augmentation={"normalize": "none"}).train)
    assert x.min() == 0.0 and x.max() == 1.0


def test_csv_string_labels_become_sorted_classes(iris_csv: Path) -> None:
    bundle = build(iris_csv)
    spec = bundle.spec
    assert spec.class_names == ["setosa", "versicolor", "virginica"]
    assert spec.feature_names is not None and spec.feature_names[0] == "sepal length (cm)"
    assert spec.source_format == "csv" and spec.target_column == "label"
    assert bundle.class_counts == [45, 45, 45]
    x, _ = stacked(bundle.train)
    # standardised with the training rows' statistics
    assert torch.allclose(x.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(4), atol=1e-4)


def test_csv_integer_labels_sorted_numerically(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = [f"{i % 3},{i * 0.5},{[2, 10, 7][i % 3]}" for i in range(30)]
    path.write_text("a,b,target\n" + "\n".join(rows) + "\n")
    spec = build(path).spec
    assert spec.target_column == "target"
    assert spec.class_names == ["2", "7", "10"]


def test_csv_target_column_falls_back_to_last(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,kind\n" + "".join(f"{i},{i % 4},{'xy'[i % 2]}\n" for i in range(20)))
    spec = build(path).spec
    assert spec.target_column == "kind" and spec.feature_names == ["a", "b"]


def test_csv_regression_auto_and_forced(tmp_path: Path) -> None:
    reg = make_tabular_csv(tmp_path / "diabetes.csv", "diabetes")
    bundle = build(reg)
    assert bundle.spec.task == "regression" and bundle.spec.num_classes is None
    assert bundle.class_counts is None
    ints = make_tabular_csv(tmp_path / "iris_int.csv", "iris", string_labels=False)
    assert build(ints).spec.task == "classification"
    forced = build(ints, task="regression")
    assert forced.spec.task == "regression"
    assert next(forced.train.epoch(0))[1].dtype == torch.float32


def test_pixel_csv_is_image_data(digits_csv: Path) -> None:
    bundle = build(digits_csv)
    spec = bundle.spec
    assert (spec.kind, spec.shape, spec.source_format) == ("image", [1, 8, 8], "csv_pixels")
    assert spec.preprocessing["pixel_scale"] == pytest.approx(1 / 255)  # values 0..16 > 1
    assert spec.preprocessing["input_layout"] == "flat"
    x, _ = next(bundle.train.epoch(0))
    assert x.shape[1:] == (1, 8, 8)


def test_pixel_csv_image_size_for_non_square(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    header = ",".join(f"pixel{i}" for i in range(6)) + ",label"
    path.write_text(header + "\n" + "".join(f"{','.join(['3'] * 6)},{i % 2}\n" for i in range(10)))
    spec = build(path, image_size=[2, 3]).spec
    assert spec.shape == [1, 2, 3]


def test_pixel_csv_imagenet_on_one_channel_notice(digits_csv: Path) -> None:
    bundle = build(digits_csv, augmentation={"normalize": "imagenet"})
    assert bundle.spec.preprocessing["mean"] == [pytest.approx((0.485 + 0.456 + 0.406) / 3)]
    assert any("average of ImageNet" in n for n in bundle.notices)


def test_train_and_val_csv_files(tmp_path: Path) -> None:
    train, val = make_train_val_csvs(tmp_path / "data")
    bundle = build(train, val_path=str(val), test_path=str(val))
    assert bundle.val is not None and bundle.test is not None
    assert bundle.train.num_samples + bundle.val.num_samples == 1797
    assert bundle.test.num_samples == bundle.val.num_samples
    assert len(bundle.split_hash) == 64


def test_image_folder_rgb(image_folder: Path) -> None:
    bundle = build(image_folder)
    spec = bundle.spec
    assert (spec.kind, spec.shape, spec.source_format) == ("image", [3, 16, 16], "image_folder")
    assert spec.class_names == ["0", "1", "2", "3"]
    assert len(spec.preprocessing["mean"]) == 3
    x, y = stacked(bundle.train)
    assert x.shape == (bundle.train.num_samples, 3, 16, 16) and y.dtype == torch.int64


def test_image_folder_grayscale_has_one_channel(tmp_path: Path) -> None:
    root = make_image_folder(
        tmp_path / "g", n_per_class=4, size=12, grayscale=True, classes=["a", "b"]
    )
    bundle = build(root, augmentation={"normalize": "imagenet"})
    assert bundle.spec.shape == [1, 12, 12]
    assert any("average of ImageNet" in n for n in bundle.notices)


def test_image_folder_mixed_sizes_resized_to_most_common(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "m", n_per_class=4, size=16, classes=["0", "1"])
    make_image_folder(tmp_path / "extra", n_per_class=2, size=(10, 20), classes=["0"])
    for f in sorted((tmp_path / "extra" / "0").iterdir()):
        f.rename(root / "0" / f"odd_{f.name}")
    bundle = build(root)
    assert bundle.spec.shape == [3, 16, 16]
    assert any("most common, 16x16" in n for n in bundle.notices)
    x, _ = stacked(bundle.train)
    assert x.shape[1:] == (3, 16, 16)


def test_image_folder_resize(image_folder: Path) -> None:
    bundle = build(image_folder, augmentation={"resize": [8, 10]})
    assert bundle.spec.shape == [3, 8, 10]
    assert bundle.spec.preprocessing["resize"] == [8, 10]
    assert next(bundle.train.epoch(0))[0].shape[1:] == (3, 8, 10)


def test_image_folder_val_folder(tmp_path: Path) -> None:
    train = make_image_folder(tmp_path / "train", n_per_class=4, classes=["0", "1", "2"])
    val = make_image_folder(tmp_path / "val", n_per_class=2, classes=["0", "2"])
    bundle = build(train, val_path=str(val))
    assert bundle.val is not None
    _, y = stacked(bundle.val)
    assert sorted(set(y.tolist())) == [0, 2]


def test_user_datasets_through_python_api() -> None:
    g = torch.Generator().manual_seed(0)
    train = TensorDataset(torch.randn(40, 5, generator=g), torch.arange(40) % 3)
    val = TensorDataset(torch.randn(10, 5, generator=g), torch.arange(10) % 3)
    cfg = DataConfig(batch_size=8)
    bundle = build_data(cfg, seed=0, device="cpu", train_data=train, val_data=val)
    spec = bundle.spec
    assert (spec.kind, spec.shape, spec.num_classes, spec.source_format) == (
        "tabular",
        [5],
        3,
        "custom",
    )
    assert len(bundle.train) == 5 and bundle.val is not None and bundle.val.num_samples == 10
    x, y = next(bundle.train.epoch(0))
    assert x.shape == (8, 5) and y.dtype == torch.int64


def test_user_dataset_without_val_is_split() -> None:
    train = TensorDataset(torch.zeros(50, 1, 4, 4), torch.arange(50) % 2)
    bundle = build_data(DataConfig(), seed=0, device="cpu", train_data=train)
    assert bundle.spec.kind == "image"
    assert bundle.val is not None and bundle.val.num_samples == 5
    assert bundle.class_counts is not None and sorted(bundle.class_counts) == [22, 23]


def test_data_source_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_data_mod.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch.utils.data import TensorDataset

            def datasets():
                x = torch.arange(60, dtype=torch.float32).reshape(30, 2)
                y = torch.arange(30, dtype=torch.float32) / 7
                return TensorDataset(x, y), None, TensorDataset(x[:6], y[:6])
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    bundle = build(source="my_data_mod:datasets", batch_size=4)
    assert bundle.spec.task == "regression"
    assert bundle.test is not None and bundle.test.num_samples == 6
    assert bundle.val is not None and bundle.val.num_samples == 3
    assert collect(bundle.test)[0][1].dtype == torch.float32


def test_digits_csv_fixture_with_names(tmp_path: Path) -> None:
    path = make_digits_csv(tmp_path / "named.csv", n=100, with_names=True)
    assert "eight" in build(path).spec.class_names  # type: ignore[operator]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_with_other_delimiters_and_a_bom(tmp_path: Path, sep: str) -> None:
    text = make_tabular_csv(tmp_path / "iris.csv", "iris").read_text()
    other = tmp_path / "other.csv"
    other.write_text(text.replace(",", sep).replace("\n", "\r\n"), encoding="utf-8-sig")
    reference = build(str(tmp_path / "iris.csv")).spec
    spec = build(str(other)).spec
    assert spec.feature_names == reference.feature_names
    assert spec.class_names == reference.class_names
