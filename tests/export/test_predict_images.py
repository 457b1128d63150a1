"""``trainforge predict`` on image folders: class subfolders and a flat folder of files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from export_testing import TINY_CNN, last_checkpoint, train
from fixtures import make_image_folder

import trainforge
from trainforge.cli.main import main
from trainforge.data import load_raw_inputs

CLASSES = ["cat", "dog", "owl"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("images")
    images = make_image_folder(folder / "images", n_per_class=10, size=12, classes=CLASSES)
    return last_checkpoint(train(folder, TINY_CNN, {"train_path": str(images)})), images


def test_folder_with_class_subfolders(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, images = trained
    output = tmp_path / "preds.csv"
    args = ["--checkpoint", str(checkpoint), "--input", str(images), "--output", str(output)]
    code = main(["predict", *args, "--batch_size", "4"])
    assert code == 0 and "wrote 30 predictions" in capsys.readouterr().out
    frame = pd.read_csv(output)
    assert list(frame.columns) == [
        "id",
        "class_index",
        "class_name",
        "prob_cat",
        "prob_dog",
        "prob_owl",
    ]
    assert frame["id"].tolist()[:2] == ["cat/000.png", "cat/001.png"]
    assert len(set(frame["id"])) == 30
    probs = frame[["prob_cat", "prob_dog", "prob_owl"]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-6
    assert set(frame["class_name"]) <= set(CLASSES)

    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs(str(images), model.spec)
    assert raw.shape == (30, 3, 12, 12) and float(raw.max()) > 1  # 0..255 pixels
    expected = model.predict_proba(raw).numpy()
    assert abs(probs - expected).max() < 1e-6


def test_flat_folder_uses_file_names_as_ids(trained: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, images = trained
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("000", "001"):
        shutil.copy(images / "owl" / f"{name}.png", flat / f"owl_{name}.png")
    shutil.copy(images / "cat" / "000.png", flat / "cat.png")
    output = tmp_path / "flat.csv"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(checkpoint),
                "--input",
                str(flat),
                "--output",
                str(output),
            ]
        )
        == 0
    )
    frame = pd.read_csv(output)
    assert frame["id"].tolist() == ["cat.png", "owl_000.png", "owl_001.png"]
    model = trainforge.load_model(checkpoint)
    raw, _ = load_raw_inputs(str(images), model.spec)
    owl = model.predict_proba(raw[20:21])[0]
    assert torch.allclose(
        torch.tensor(frame.iloc[1, 3:].to_numpy(dtype=float)), owl.double(), atol=1e-6
    )


def test_a_single_image_file_is_read_as_an_image(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, images = trained
    output = tmp_path / "one.csv"
    args = ["--checkpoint", str(checkpoint), "--input", str(images / "owl" / "003.png")]
    assert main(["predict", *args, "--output", str(output)]) == 0
    frame = pd.read_csv(output)
    assert frame["id"].tolist() == ["003.png"] and len(frame) == 1
    model = trainforge.load_model(checkpoint)
    raw, labels = load_raw_inputs(str(images / "owl" / "003.png"), model.spec)
    assert raw.shape == (1, 3, 12, 12) and labels is None
    probs = frame[["prob_cat", "prob_dog", "prob_owl"]].to_numpy()
    assert abs(probs - model.predict_proba(raw).numpy()).max() < 1e-6
    # evaluate needs labels: one line, no traceback
    code = main(
        ["evaluate", "--checkpoint", str(checkpoint), "--data", str(images / "cat" / "000.png")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "has no labels to evaluate against" in err and "Traceback" not in err
