"""On a real terminal (a pty) training shows a per-epoch progress bar; off it, plain lines."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "model:\n  architecture: mlp\ndata:\n  train_path: builtin:digits\n  batch_size: 16\n"
        "training:\n  epochs: 2\nlogging:\n  tensorboard: false\n"
    )
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainforge",
            "train",
            "--config",
            str(config),
            "--output",
            str(tmp_path / "run"),
        ],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(primary)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen
    assert "epoch 1/2" in screen and "loss" in screen
    assert "\x1b[" in screen  # the bar redraws with terminal control sequences
    assert "final val_accuracy" in screen

    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainforge",
            "train",
            "--config",
            str(config),
            "--output",
            str(tmp_path / "run2"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0
    assert "\x1b[" not in piped.stderr and "epoch 2/2" in piped.stderr
