"""--list and --load_best on the checkpoints of a real training run, as SPEC.md types them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from manager_testing import assert_one_line_error, call, cli, train

from trainforge.checkpoint.format import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch digits run; the tests work in copies of its folder."""
    out = tmp_path_factory.mktemp("list") / "run"
    train(out)
    return out


@pytest.fixture
def work(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def test_spec_list_command_prints_every_checkpoint_with_metrics(work: Path) -> None:
    proc = cli("--list", "--checkpoint_dir", "checkpoints/", "--format", "table", cwd=work)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("file"))
    for column in ("epoch", "step", "val_accuracy", "val_loss", "size", "time", "checksum", "tags"):
        assert column in header
    names = {line.split()[0] for line in lines[2:]}
    assert {"best.pth", "last.pth", "epoch_001.pth", "epoch_002.pth"} <= names
    last = next(line for line in lines if line.startswith("last.pth"))
    assert "last" in last.split("ok", 1)[1]
    best = next(line for line in lines if line.startswith("best.pth"))
    assert "best val_accuracy" in best


def test_json_and_csv_formats(work: Path, capsys: Any, monkeypatch: Any) -> None:
    code, out, _ = call(
        "--list", "--checkpoint-dir", str(work), "--format", "json",
        cwd=work.parent, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    by_name = {c["name"]: c for c in data["checkpoints"]}
    assert by_name["epoch_002.pth"]["epoch"] == 2 and by_name["epoch_002.pth"]["step"] > 0
    assert by_name["best.pth"]["status"] == "ok" and by_name["best.pth"]["checksum"].startswith(
        "sha256:"
    )
    assert "last" in by_name["last.pth"]["tags"]
    code, out, _ = call(
        "--list", "--checkpoint_dir", "checkpoints", "--format", "csv",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert float(next(r for r in rows if r["file"] == "best.pth")["val_accuracy"]) > 0.5


def test_damaged_files_are_listed_as_damaged_not_a_crash(work: Path) -> None:
    folder = work / "checkpoints"
    data = (folder / "epoch_001.pth").read_bytes()
    (folder / "truncated.pth").write_bytes(data[: len(data) // 2])
    (folder / "garbage.pth").write_bytes(b"not a checkpoint at all")
    (folder / "empty.pth").write_bytes(b"")
    state = load_checkpoint(folder / "epoch_001.pth")
    save_checkpoint(state, folder / "tampered.pth")
    tampered = torch.load(folder / "tampered.pth", weights_only=True)
    first = next(iter(tampered["model"]))
    tampered["model"][first] += 1.0  # the stored checksum no longer matches
    torch.save(tampered, folder / "tampered.pth")
    torch.save(state["model"], folder / "weights_only.pth")

    proc = cli("--list", "--checkpoint_dir", "checkpoints/", "--format", "json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    status = {c["name"]: c for c in json.loads(proc.stdout)["checkpoints"]}
    for name in ("truncated.pth", "garbage.pth", "empty.pth", "tampered.pth"):
        assert status[name]["status"] == "damaged", name
        assert name in status[name]["reason"]
    assert "checksum" in status["tampered.pth"]["reason"]
    assert status["weights_only.pth"]["status"] == "not trainforge"
    assert status["best.pth"]["status"] == "ok"

    table = cli("--list", "--checkpoint_dir", "checkpoints/", "--format", "table", cwd=work)
    assert table.returncode == 0 and "DAMAGED" in table.stdout and "Traceback" not in table.stderr
    best = cli(
        "--load_best", "--checkpoint_dir", "checkpoints/", "--metric", "val_accuracy", cwd=work
    )
    assert best.returncode == 0 and best.stdout.splitlines()[0].endswith("best.pth")
    assert "skipped truncated.pth" in best.stderr


def test_spec_load_best_command(work: Path) -> None:
    proc = cli(
        "--load_best", "--checkpoint_dir", "checkpoints/", "--metric", "val_accuracy", cwd=work
    )
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.splitlines()[0])
    assert path == (work / "checkpoints" / "best.pth").resolve()
    assert "val_accuracy" in proc.stdout.splitlines()[1]


def test_load_best_json_matches_the_recorded_best(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    _, out, _ = call(
        "--load-best", "--checkpoint-dir", "checkpoints", "--metric", "val_loss", "--format", "json",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    data = json.loads(out)
    values = [
        load_checkpoint(p)["metrics"]["val_loss"] for p in (work / "checkpoints").glob("*.pth")
    ]
    assert data["mode"] == "min" and data["value"] == min(values)
    _, out, _ = call(
        "--load_best", "--checkpoint_dir", "checkpoints", "--metric", "val_loss",
        "--mode", "max", "--format", "json", cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert json.loads(out)["value"] == max(values)


def test_unknown_metric_is_a_one_line_error_listing_the_metrics(work: Path) -> None:
    proc = cli("--load_best", "--checkpoint_dir", "checkpoints/", "--metric", "val_bleu", cwd=work)
    assert_one_line_error(proc, "val_bleu", "val_accuracy", "val_loss")


def test_load_best_skips_damaged_files_with_a_warning(
    work: Path, capsys: Any, monkeypatch: Any
) -> None:
    data = (work / "checkpoints" / "best.pth").read_bytes()
    (work / "checkpoints" / "cut.pth").write_bytes(data[:1000])
    code, out, err = call(
        "--load_best", "--checkpoint_dir", "checkpoints/", "--metric", "val_accuracy",
        cwd=work, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0 and out.splitlines()[0].endswith("best.pth")
    assert "skipped cut.pth" in err


def test_missing_folder_is_a_one_line_error(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    code, _, err = call(
        "--list",
        "--checkpoint_dir",
        "nowhere/",
        cwd=tmp_path,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 2 and err.count("\n") == 1 and "nowhere" in err and "does not exist" in err
