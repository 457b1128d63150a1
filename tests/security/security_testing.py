"""Shared by the security tests: a real tiny run, forged copies of its checkpoint, and a CLI
runner that checks a user mistake is one line, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import trainforge
from trainforge.checkpoint.format import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]

# A module that leaves a marker when imported and another when its function is called, so a
# test can tell "imported" from "called" from "never touched".
MARKER_MODULE = """
from pathlib import Path
import torch
from torch import nn

HERE = Path(__file__).parent
(HERE / "imported.marker").write_text("imported")


def make_model(**kwargs):
    (HERE / "called.marker").write_text("called")
    return nn.Linear(4, 3)


class Net(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.fc(x)
"""


def tiny_config(**model: Any) -> dict[str, Any]:
    return {
        "model": {"architecture": "mlp", "hidden_sizes": [8], **model},
        "data": {"train_path": "builtin:iris", "batch_size": 32},
        "training": {"epochs": 1},
        "logging": {"progress_bar": "off", "tensorboard": False},
        "reproducibility": {"seed": 0},
    }


def train_tiny(folder: Path, **model: Any) -> Path:
    """A one-epoch iris run; returns its last.pth."""
    result = trainforge.fit(tiny_config(**model), output=folder)
    return result.run_dir / "checkpoints" / "last.pth"


def write_marker_module(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marker_mod.py").write_text(textwrap.dedent(MARKER_MODULE))
    return "marker_mod"


def forge(source: Path, target: Path, **sections: dict[str, Any]) -> Path:
    """``source`` with config sections changed (``model={...}``), re-saved with a valid
    checksum (anyone can recompute it: the checksum detects damage, not forgery)."""
    state = load_checkpoint(source)
    for section, values in sections.items():
        state["config"][section].update(values)
    return save_checkpoint(state, target)


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "trainforge", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, no traceback, the error on one stderr line holding every fragment."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("trainforge: error:")]
    assert len(errors) == 1, done.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]
