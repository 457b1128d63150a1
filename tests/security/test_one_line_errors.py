"""Every user mistake of issue 7 is one line on stderr, exit 2, no traceback, in a real
subprocess (as a user runs it), and nothing unbounded happens before the refusal."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from fixtures import make_tabular_csv
from security_testing import (
    assert_one_line_error,
    forge,
    run_cli,
    tiny_config,
    train_tiny,
)

from trainforge.checkpoint.format import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("genuine") / "run")


def _config(folder: Path, text: str | None = None) -> Path:
    path = folder / "config.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(tiny_config()))
    return path


def _state_edit(genuine: Path, target: Path, edit: Any) -> Path:
    state = load_checkpoint(genuine)
    edit(state)
    return save_checkpoint(state, target)


def _bomb(genuine: Path, target: Path) -> Path:
    """A small file whose extra zip entry inflates to 64 MiB."""
    with zipfile.ZipFile(genuine) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_STORED)
        out.writestr("archive/data/9999", bytes(64 << 20), compress_type=zipfile.ZIP_DEFLATED)
    assert target.stat().st_size < 1 << 20
    return target


def _newer_format(genuine: Path, target: Path) -> Path:
    state = torch.load(genuine, weights_only=True)
    state["format_version"] = 99
    torch.save(state, target)
    return target


def _predict(checkpoint: Path, folder: Path) -> list[str]:
    out = folder / "p.csv"
    return [
        "predict",
        "--checkpoint",
        str(checkpoint),
        "--input",
        "builtin:iris",
        "--output",
        str(out),
    ]


CHECKPOINT_CASES = {
    # name: (make the bad checkpoint, command, fragments of the one line)
    "weights-do-not-fit": (
        lambda g, t: forge(g, t, model={"hidden_sizes": [5]}),
        lambda c, f: ["train", "--resume", str(c), "--output", str(f / "resumed")],
        ["--resume", "weights do not fit the model"],
    ),
    "forged-input-spec": (
        lambda g, t: _state_edit(g, t, lambda s: s["input_spec"].update(shape=[-3])),
        _predict,
        ["input spec: shape must be 1 positive whole number"],
    ),
    "absurd-hidden-sizes": (
        lambda g, t: forge(g, t, model={"hidden_sizes": [10**6, 10**6, 10**6]}),
        _predict,
        ["model.hidden_sizes", "more than trainforge builds"],
    ),
    "zip-bomb": (_bomb, _predict, ["zip entries would inflate to"]),
    "newer-format": (_newer_format, _predict, ["checkpoint format 99, newer than"]),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_bad_checkpoints_are_one_line(genuine: Path, tmp_path: Path, case: str) -> None:
    make, command, fragments = CHECKPOINT_CASES[case]
    bad = make(genuine, tmp_path / "bad.pth")
    done = run_cli(*command(bad, tmp_path), cwd=tmp_path)
    assert_one_line_error(done, *fragments)
    assert not (tmp_path / "p.csv").exists()


CONFIG_CASES = {
    "negative-seed": (None, ["--set", "reproducibility.seed=-1"], ["reproducibility.seed"]),
    "epochs-true": (None, ["--set", "training.epochs=true"], ["training.epochs", "not true/false"]),
    "channels-true": (
        None,
        ["--set", "model.channels=[true, 64]"],
        ["model.channels", "not true/false"],
    ),
    "duplicate-keys": (
        "model:\n  architecture: mlp\ntraining:\n  epochs: 3\n  learning_rate: 0.1\n  epochs: 5\n",
        [],
        ["training.epochs is given twice (lines 4 and 6)"],
    ),
    "huge-yaml": ("a: 1\n" * 600_000, [], ["too large for a training config"]),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_mistakes_are_one_line(tmp_path: Path, case: str) -> None:
    text, extra, fragments = CONFIG_CASES[case]
    config = _config(tmp_path, text)
    out = tmp_path / "run"
    done = run_cli("train", "--config", str(config), "--output", str(out), *extra, cwd=tmp_path)
    assert_one_line_error(done, *fragments)
    assert not out.exists()


def test_negative_epoch_for_ckpt_save_is_one_line(genuine: Path, tmp_path: Path) -> None:
    weights = tmp_path / "model.pth"
    torch.save(load_checkpoint(genuine)["model"], weights)
    args = ["ckpt", "--save", "--model", str(weights), "--config", str(_config(tmp_path))]
    for flag in ("--epoch", "--step"):
        done = run_cli(*args, "--output", str(tmp_path / "o.pth"), flag, "-2", cwd=tmp_path)
        assert_one_line_error(done, "--epoch and --step count what is done")
    assert not (tmp_path / "o.pth").exists()


def test_symlink_loop_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "a.pth").symlink_to(tmp_path / "b.pth")
    (tmp_path / "b.pth").symlink_to(tmp_path / "a.pth")
    done = run_cli(*_predict(tmp_path / "a.pth", tmp_path), cwd=tmp_path)
    assert_one_line_error(done, "a.pth is a symbolic link that loops back on itself")
    done = run_cli("train", "--config", str(tmp_path / "a.pth"), cwd=tmp_path)
    assert_one_line_error(done, "loops back on itself")


def test_an_infinite_value_is_shown_as_a_number(genuine: Path, tmp_path: Path) -> None:
    csv = make_tabular_csv(tmp_path / "rows.csv")
    rows = [line.split(",")[:-1] for line in csv.read_text().splitlines()]  # no label column
    rows[1][0] = "inf"
    csv.write_text("".join(",".join(row) + "\n" for row in rows))
    args = ["predict", "--checkpoint", str(genuine), "--input", str(csv)]
    done = run_cli(*args, "--output", str(tmp_path / "p.csv"), cwd=tmp_path)
    line = assert_one_line_error(done, "line 2", "infinite value")
    assert "np.float64" not in line and "numpy" not in line
