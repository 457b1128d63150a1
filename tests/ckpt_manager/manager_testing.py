"""Helpers for the checkpoint-manager tests: tiny real training runs and CLI calls."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trainforge
from trainforge.train.result import RunResult

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "checkpoint_manager.py"

TINY: dict[str, Any] = {
    "model": {"architecture": "simple_cnn", "channels": [8, 16]},
    "data": {"train_path": "builtin:digits", "batch_size": 64},
    "training": {"epochs": 2},
    "checkpointing": {"save_every_n_epochs": 1, "keep_top_k": 2, "monitor": "val_accuracy"},
    "logging": {"progress_bar": "off", "tensorboard": False},
}


def config(**sections: Mapping[str, Any]) -> dict[str, Any]:
    """TINY with some sections updated, e.g. config(training={"epochs": 1})."""
    out = copy.deepcopy(TINY)
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


def train(output: Path, cfg: Mapping[str, Any] | None = None, **kwargs: Any) -> RunResult:
    return trainforge.fit(dict(cfg or TINY), output=output, **kwargs)


def cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python <repo>/checkpoint_manager.py ARGS`` as a user runs it, in ``cwd``."""
    full_env = {k: v for k, v in os.environ.items() if k != "TRAINFORGE_REGISTRY"}
    full_env.update({"OMP_NUM_THREADS": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def call(*args: str, cwd: Path, capsys: Any, monkeypatch: Any) -> tuple[int, str, str]:
    """``trainforge ckpt ARGS`` in this process (faster than a subprocess): (code, out, err)."""
    from trainforge.cli.main import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    try:
        code = main(["ckpt", *args])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
