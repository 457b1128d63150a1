"""Shared by the distributed tests: a tiny digits config and the launcher command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATOR = str(ROOT / "training_orchestrator.py")

CONFIG = """\
model:
  architecture: simple_cnn
  channels: [8, 16]
data:
  train_path: builtin:digits
  batch_size: {batch_size}
training:
  epochs: {epochs}
  learning_rate: 0.003
logging:
  progress_bar: off
  log_every_n_steps: 1
"""


def write_config(folder: Path, *, epochs: int = 2, batch_size: int = 64, extra: str = "") -> None:
    text = CONFIG.format(epochs=epochs, batch_size=batch_size) + extra
    (folder / "c.yaml").write_text(text)


def command(*flags: str) -> list[str]:
    return [sys.executable, ORCHESTRATOR, "--config", "c.yaml", *flags]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run(cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*flags), cwd=cwd, capture_output=True, text=True, timeout=240, env=env()
    )


def records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "logs" / "metrics.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    cwd: Path, *flags: str, log: str = "run.out", extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """A training command in the background, its output in ``cwd / log``."""
    return subprocess.Popen(
        command(*flags),
        cwd=cwd,
        stdout=(cwd / log).open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**env(), **(extra_env or {})},
    )


def wait_for_step(run_dir: Path, procs: list[subprocess.Popen[str]], step: int = 1) -> None:
    """Until the run has logged a step >= ``step`` (fails if a process ended first)."""
    import time

    deadline = time.monotonic() + 180
    while not any(r["type"] == "step" and r["step"] >= step for r in records(run_dir)):
        assert all(p.poll() is None for p in procs), [p.returncode for p in procs]
        assert time.monotonic() < deadline, "no training step within 180 s"
        time.sleep(0.1)
