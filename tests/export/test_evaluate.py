"""``trainforge evaluate`` on a CNN trained on a pixel CSV with a separate validation CSV."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from export_testing import TINY_CNN, last_checkpoint, train
from fixtures import make_train_val_csvs

from trainforge.checkpoint.format import load_checkpoint
from trainforge.cli.main import main
from trainforge.errors import UsageError
from trainforge.evaluate import evaluate_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("evaluate")
    train_csv, val_csv = make_train_val_csvs(folder)
    data = {"train_path": str(train_csv), "val_path": str(val_csv)}
    return last_checkpoint(train(folder, TINY_CNN, data)), train_csv, val_csv


def test_metrics_equal_the_trainers_validation(trained: tuple[Path, Path, Path]) -> None:
    checkpoint, _, val_csv = trained
    result = evaluate_checkpoint(checkpoint, val_csv, batch_size=50)
    recorded = load_checkpoint(checkpoint)["metrics"]
    assert result["num_samples"] == 360
    for name in ("accuracy", "f1", "precision", "recall", "top5_accuracy"):
        assert result["metrics"][name] == pytest.approx(recorded[f"val_{name}"], abs=1e-9), name
    assert result["metrics"]["loss"] == pytest.approx(recorded["val_loss"], rel=1e-5)
    matrix = result["confusion_matrix"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 360
    per_class = result["per_class"]
    assert [c["class"] for c in per_class] == [str(i) for i in range(10)]
    assert sum(c["support"] for c in per_class) == 360
    assert all(0 <= c["precision"] <= 1 and 0 <= c["f1"] <= 1 for c in per_class)


def test_without_data_or_test_path_says_to_pass_data(trained: tuple[Path, Path, Path]) -> None:
    with pytest.raises(UsageError, match="--data"):
        evaluate_checkpoint(trained[0])


def test_cli_prints_tables_and_writes_json_and_png(
    trained: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, _, val_csv = trained
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(val_csv)]
    args += ["--output", str(tmp_path / "out" / "metrics.json"), "--plot", str(tmp_path / "cm.png")]
    assert main([*args, "--batch-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "confusion matrix" in printed and "support" in printed
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written["metrics"] == evaluate_checkpoint(checkpoint, val_csv)["metrics"]
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainforge", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_files_fail_fast_in_one_line(tmp_path: Path) -> None:
    line = one_line_error(run_cli("evaluate", "--checkpoint", "missing.pth", cwd=tmp_path))
    assert line == "trainforge: error: checkpoint missing.pth does not exist"
    (tmp_path / "model.pth").write_bytes(b"x")
    args = ["--checkpoint", "model.pth", "--input", "nope.csv", "--output", "p.csv"]
    line = one_line_error(run_cli("predict", *args, cwd=tmp_path))
    assert "nope.csv does not exist" in line


def unlabelled_csv(train_csv: Path, path: Path) -> Path:
    rows = train_csv.read_text().splitlines()[:4]
    path.write_text("\n".join(",".join(r.split(",")[:64]) for r in rows) + "\n")
    return path


def test_data_mistakes_are_one_line_errors(
    trained: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, train_csv, _ = trained
    assert main(["evaluate", "--checkpoint", str(checkpoint)]) == 2
    unlabelled = unlabelled_csv(train_csv, tmp_path / "unlabelled.csv")
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(unlabelled)]
    assert main(args) == 2
    assert main([*args, "--batch_size", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("trainforge: error: ") for line in lines)
    assert "data.test_path" in lines[0] and "--data" in lines[0]
    assert "no labels" in lines[1] and "predict" in lines[1]
    assert "--batch_size must be at least 1" in lines[2]


@pytest.mark.slow
def test_data_mistakes_in_a_real_process(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, train_csv, _ = trained
    line = one_line_error(run_cli("evaluate", "--checkpoint", str(checkpoint), cwd=tmp_path))
    assert "data.test_path" in line and "--data" in line
    unlabelled = unlabelled_csv(train_csv, tmp_path / "unlabelled.csv")
    line = one_line_error(
        run_cli(
            "evaluate", "--checkpoint", str(checkpoint), "--data", str(unlabelled), cwd=tmp_path
        )
    )
    assert "no labels" in line and "predict" in line


def test_class_weights_auto_loss_matches_validation(tmp_path: Path) -> None:
    train_csv, val_csv = make_train_val_csvs(tmp_path)
    config = {
        "model": TINY_CNN,
        "data": {"train_path": str(train_csv), "val_path": str(val_csv), "batch_size": 32},
        "training": {"epochs": 1, "class_weights": "auto", "label_smoothing": 0.1},
        "logging": {"progress_bar": "off", "tensorboard": False},
    }
    import trainforge

    checkpoint = trainforge.fit(config, output=tmp_path / "run").checkpoints["last"]
    stored = load_checkpoint(checkpoint)
    assert len(stored["loss"]["class_weights"]) == 10
    result = evaluate_checkpoint(checkpoint, val_csv)
    assert result["notices"] == []
    assert result["metrics"]["loss"] == pytest.approx(stored["metrics"]["val_loss"], rel=1e-5)
