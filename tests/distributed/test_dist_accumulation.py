"""Data-parallel gradient accumulation all-reduces once per optimizer step (DDP no_sync)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_with_accumulation(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "model:\n  architecture: mlp\n  hidden_sizes: [16]\n"
        "data:\n  train_path: builtin:iris\n  batch_size: 8\n"
        "training:\n  epochs: 2\n  gradient_accumulation_steps: 3\n"
        "logging:\n  tensorboard: false\n  log_every_n_steps: 1\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "training_orchestrator.py"),
            "--config",
            "c.yaml",
            "--distributed",
            "--n_gpus",
            "2",
            "--output",
            "run",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr
    records = [
        json.loads(line)
        for line in (tmp_path / "run" / "logs" / "metrics.json").read_text().splitlines()
    ]
    # 135 training rows over 2 ranks: 68 each (padded), 9 batches of 8, 3 optimizer steps an epoch
    steps = [r["step"] for r in records if r["type"] == "step"]
    assert steps == list(range(1, 7))
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["world_size"] == 2
