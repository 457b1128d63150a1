"""trainforge never deletes or overwrites a file it did not write, and never writes outside
the run folder: --overwrite keeps foreign files, outputs equal to inputs or checkpoints are
refused, save_dir and log_dir cannot escape."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
import yaml
from fixtures import make_tabular_csv
from security_testing import assert_one_line_error, run_cli, tiny_config

import trainforge
from trainforge.checkpoint.format import is_valid_checkpoint
from trainforge.cli.main import main
from trainforge.train.run_files import plan_overwrite


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    text = capsys.readouterr().err
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.startswith("trainforge: error:")]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished iris run with best.pth and last.pth."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    trainforge.fit(tiny_config(), output=folder)
    return folder


def test_overwrite_plan_deletes_only_trainforge_names() -> None:
    paths = [
        "config.yaml", "metadata.json", ".lock", "my_notes.txt", "my_data/x.csv",
        "ck/best.pth", "ck/last.pth", "ck/epoch_003.pth", "ck/epoch_002-val_loss=0.5.pth",
        "ck/best_val_accuracy.pth", "ck/.last.pth.tmp-77", "ck/my_manual_backup.pth",
        "lg/metrics.json", "lg/train.log", "lg/tensorboard/events.out.tfevents.1",
        "lg/my_plot.png", "wandb/run-1/files/x", "logs/metrics.json", "checkpoints/best.pth",
    ]  # fmt: skip
    delete, keep = plan_overwrite([PurePosixPath(p) for p in paths], "ck", "lg")
    assert [p.as_posix() for p in keep] == [
        "checkpoints/best.pth",  # not this run's checkpoint folder: not provably ours
        "ck/my_manual_backup.pth",
        "lg/my_plot.png",
        "logs/metrics.json",
        "my_data/x.csv",
        "my_notes.txt",
    ]
    assert len(delete) == len(paths) - len(keep)


def test_overwrite_keeps_foreign_files_and_removes_stale_checkpoints(tmp_path: Path) -> None:
    config = tiny_config()
    config["training"]["epochs"] = 2
    config["checkpointing"] = {"save_every_n_epochs": 1}
    folder = tmp_path / "run"
    trainforge.fit(config, output=folder)
    assert (folder / "checkpoints" / "epoch_002.pth").is_file()
    (folder / "my_notes.txt").write_text("notes")
    (folder / "my_data").mkdir()
    (folder / "my_data" / "x.csv").write_text("a,b\n1,2\n")
    backup = folder / "checkpoints" / "my_manual_backup.pth"
    backup.write_bytes((folder / "checkpoints" / "last.pth").read_bytes())

    config["training"]["epochs"] = 1
    trainforge.fit(config, output=folder, overwrite=True)
    assert (folder / "my_notes.txt").read_text() == "notes"
    assert (folder / "my_data" / "x.csv").read_text() == "a,b\n1,2\n"
    assert is_valid_checkpoint(backup)
    names = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert names == ["best.pth", "epoch_001.pth", "last.pth", "my_manual_backup.pth"]
    log = (folder / "logs" / "train.log").read_text()
    assert "kept 3 it did not write" in log and "my_notes.txt" in log


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "--input", "{csv}", "--output", "{csv}"],
        ["predict", "--input", "builtin:iris", "--output", "{best}"],
        ["predict", "--input", "builtin:iris", "--output", "{last}", "--force"],
        ["evaluate", "--data", "builtin:iris", "--output", "{best}", "--force"],
        ["evaluate", "--data", "{csv}", "--plot", "{csv}"],
        ["ckpt", "--export", "--format", "pytorch", "--output", "{ckpt}"],
        ["ckpt", "--export", "--format", "onnx", "--output", "{best}"],
    ],
    ids=[
        "predict-input",
        "predict-best",
        "predict-last-force",
        "evaluate-best",
        "plot-data",
        "export-self",
        "export-best",
    ],
)
def test_outputs_that_are_inputs_or_checkpoints_are_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    csv = make_tabular_csv(tmp_path / "a.csv")
    before = {p: p.read_bytes() for p in [csv, *(run / "checkpoints").iterdir()]}
    last = run / "checkpoints" / "last.pth"
    names = {"csv": csv, "best": run / "checkpoints" / "best.pth", "last": last, "ckpt": last}
    filled = [a.format(**{k: str(v) for k, v in names.items()}) for a in args]
    if "--checkpoint" not in filled:
        filled += ["--checkpoint", str(last)]
    assert main(filled) == 2
    line = error_line(capsys)
    assert "is also an input" in line or "is an existing checkpoint" in line
    assert {p: p.read_bytes() for p in before} == before


def test_a_foreign_file_is_replaced_only_with_force_and_own_output_freely(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last = str(run / "checkpoints" / "last.pth")
    target = tmp_path / "report.csv"
    target.write_text("my own report\n")
    args = ["predict", "--checkpoint", last, "--input", "builtin:iris", "--output", str(target)]
    assert main(args) == 2
    assert "already exists and was not written by this tool; pass --force" in error_line(capsys)
    assert target.read_text() == "my own report\n"
    assert main([*args, "--force"]) == 0
    assert target.read_text().startswith("id,class_index,class_name")
    assert main(args) == 0  # its own earlier predictions: replaced without asking


def test_ckpt_save_refuses_an_existing_file_and_negative_counts(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    weights = tmp_path / "model.pth"
    model = trainforge.load_model(run / "checkpoints" / "last.pth").network
    torch.save(model.state_dict(), weights)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    existing = tmp_path / "existing.pth"
    existing.write_text("precious")
    base = ["ckpt", "--save", "--model", str(weights), "--config", str(config)]
    assert main([*base, "--output", str(existing)]) == 2
    assert "pass --force" in error_line(capsys) and existing.read_text() == "precious"
    assert main([*base, "--output", str(weights), "--force"]) == 2
    assert "is also an input" in error_line(capsys)
    assert main([*base, "--output", str(tmp_path / "new.pth"), "--epoch", "-1"]) == 2
    assert "--epoch and --step" in error_line(capsys)


@pytest.mark.parametrize(
    "setting",
    [
        "checkpointing.save_dir=../../x",
        "checkpointing.save_dir=/tmp/escape",
        "logging.log_dir=/tmp/escape_logs",
        "logging.log_dir=a/../../b",
    ],
)
def test_save_and_log_dirs_cannot_escape_the_run_folder(tmp_path: Path, setting: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    out = tmp_path / "deep" / "er" / "run"
    done = run_cli(
        "train", "--config", str(config), "--output", str(out), "--set", setting, cwd=tmp_path
    )
    assert_one_line_error(done, setting.split("=")[0], "run folder")
    assert not (tmp_path / "deep").exists() and not Path("/tmp/escape").exists()
