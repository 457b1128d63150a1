"""Bad data fails before training with a DataError that names the problem and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from data_testing import build, collect
from fixtures import make_digits_csv, make_image_folder, make_tabular_csv

from trainforge.config.schema import DataConfig
from trainforge.data import build_data
from trainforge.errors import DataError


def fails(match: str, *args: object, **kwargs: object) -> str:
    with pytest.raises(DataError, match=match) as info:
        build(*args, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_path(tmp_path: Path) -> None:
    fails(r"data.train_path: .*nope.csv does not exist", tmp_path / "nope.csv")


def test_unknown_builtin_lists_valid_names() -> None:
    message = fails("unknown builtin data set 'mnist'", "builtin:mnist")
    assert "builtin:digits" in message and "builtin:diabetes" in message


def test_empty_image_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    fails("is empty; expected <root>/<class>", tmp_path / "empty")


def test_images_without_class_folders(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "i", n_per_class=2, classes=["0"])
    for f in (root / "0").iterdir():
        f.rename(root / f.name)
    (root / "0").rmdir()
    fails("no class subfolders", root)


def test_class_folder_without_images(image_folder: Path) -> None:
    (image_folder / "9").mkdir()
    (image_folder / "9" / "notes.txt").write_text("x")
    fails(r"class folder .*9 has no images", image_folder)


def test_unreadable_image_is_named(image_folder: Path) -> None:
    (image_folder / "1" / "broken.png").write_bytes(b"not a png")
    fails(r"cannot read image .*1/broken.png", image_folder)


def test_csv_non_numeric_value_names_line_and_column(tmp_path: Path) -> None:
    path = make_tabular_csv(tmp_path / "iris.csv")
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "oops"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    message = fails("line 6, column 'petal length \\(cm\\)': non-numeric value 'oops'", path)
    assert "iris.csv" not in message or str(path) in message


def test_csv_nan_and_inf(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,x\n3,,y\n4,5,x\n")
    fails("line 3, column 'b': missing value", path)
    path.write_text("a,b,label\n1,2,x\n3,4,y\ninf,5,x\n")
    fails("line 4, column 'a': infinite value", path)


def test_empty_csv(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    fails("is empty", tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("a,b,label\n")
    fails("has a header but no rows", tmp_path / "h.csv")


def test_missing_target_column_lists_columns(iris_csv: Path) -> None:
    message = fails("no target column 'species'", iris_csv, target_column="species")
    assert "sepal width (cm)" in message


def test_labels_outside_num_classes(digits_csv: Path) -> None:
    cfg = DataConfig(train_path=str(digits_csv))
    with pytest.raises(DataError, match=r"labels 5, 6, 7, 8, 9 are outside 0..4"):
        build_data(cfg, seed=0, device="cpu", num_classes=5)
    iris = DataConfig(train_path="builtin:iris")
    with pytest.raises(DataError, match=r"found 3 classes but model\.num_classes is 2"):
        build_data(iris, seed=0, device="cpu", num_classes=2)


def test_num_classes_larger_than_data_is_a_notice(image_folder: Path) -> None:
    cfg = DataConfig(train_path=str(image_folder))
    bundle = build_data(cfg, seed=0, device="cpu", num_classes=6)
    assert bundle.spec.num_classes == 6 and any("never trained" in n for n in bundle.notices)


def test_validation_classes_differ_from_training(tmp_path: Path) -> None:
    train = make_image_folder(tmp_path / "train", n_per_class=2, classes=["cat", "dog"])
    val = make_image_folder(tmp_path / "val", n_per_class=2, classes=["cat", "fox"])
    message = fails(
        "class folder\\(s\\) fox .* do not occur in the training data", train, val_path=str(val)
    )
    assert "cat, dog" in message
    train_csv = make_tabular_csv(tmp_path / "train.csv", n=100)  # setosa, versicolor only
    val_csv = make_tabular_csv(tmp_path / "val.csv")
    fails(
        "class\\(es\\) virginica do not occur in the training data",
        train_csv,
        val_path=str(val_csv),
    )


def test_val_csv_with_other_feature_columns(tmp_path: Path) -> None:
    train = make_tabular_csv(tmp_path / "train.csv", "iris")
    val = make_tabular_csv(tmp_path / "val.csv", "wine")
    message = fails(
        "feature columns of .*val.csv differ from the training data", train, val_path=str(val)
    )
    assert "missing sepal length (cm)" in message and "unexpected alcohol" in message


def test_val_csv_without_target(tmp_path: Path) -> None:
    train = make_digits_csv(tmp_path / "train.csv", n=100)
    val = tmp_path / "val.csv"
    val.write_text("\n".join(train.read_text().splitlines()[:5]).replace(",label", ",other") + "\n")
    fails("val.csv has no target column 'label'; add it", train, val_path=str(val))


def test_missing_target_value(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,label\n1,x\n2,\n3,y\n")
    fails("line 3, column 'label': missing target value", path)


def test_non_square_pixels_need_image_size(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("pixel0,pixel1,pixel2,label\n1,2,3,0\n4,5,6,1\n")
    fails("do not form a square image; set data.image_size", path)
    fails("data.image_size 2 means 4 pixels", path, image_size=2)


def test_regression_needs_numbers(iris_csv: Path) -> None:
    fails("target 'setosa' is not a finite number", iris_csv, task="regression")


def test_builtin_task_mismatch() -> None:
    fails(
        "builtin:iris is a classification data set but data.task is regression",
        "builtin:iris",
        task="regression",
    )


def test_image_folder_cannot_be_regression(image_folder: Path) -> None:
    fails("image folder", image_folder, task="regression")


def test_source_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fails("is not 'package.module:function'", source="no_colon")
    fails("cannot be imported", source="surely_missing_module_xyz:f")
    (tmp_path / "bad_src_mod.py").write_text("def f():\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fails("must return \\(train, val\\)", source="bad_src_mod:f")


def test_user_dataset_items_must_be_pairs() -> None:
    with pytest.raises(DataError, match="must be \\(input, target\\) pairs"):
        build_data(DataConfig(), seed=0, device="cpu", train_data=[torch.zeros(3)] * 4)  # type: ignore[arg-type]


def test_val_split_too_small(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("a,label\n1,x\n")
    fails("cannot hold out data.val_split of 1 sample", path)


def test_error_message_for_folder_class_copy(image_folder: Path, tmp_path: Path) -> None:
    val = tmp_path / "val"
    shutil.copytree(image_folder, val)
    shutil.rmtree(val / "0")
    bundle = build(image_folder, val_path=str(val))  # fewer classes in validation is fine
    assert bundle.val is not None and bundle.val.num_samples == 18


def test_image_folder_val_path_must_be_a_folder(image_folder: Path, iris_csv: Path) -> None:
    fails(r"data.val_path: .*iris.csv is not a folder", image_folder, val_path=str(iris_csv))
    fails(r"data.test_path: .*nowhere does not exist", image_folder, test_path="nowhere")
    fails(r"data.val_path: .*nowhere.csv does not exist", iris_csv, val_path="nowhere.csv")


@pytest.mark.parametrize("workers", [0, 1])
def test_truncated_image_fails_with_one_line(image_folder: Path, workers: int) -> None:
    victim = image_folder / "2" / "000.png"
    victim.write_bytes(victim.read_bytes()[:60])  # the header still opens
    bundle = build(image_folder, num_workers=workers, val_split=0.5)
    with pytest.raises(DataError, match=r"cannot read image .*000.png") as info:
        for batches in (bundle.train, bundle.val):
            collect(batches)  # type: ignore[arg-type]
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)
