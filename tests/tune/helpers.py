"""Tiny real searches for the tuner's tests: digits, an mlp, 2 epochs, a few trials."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "SPEC.md"
TUNER = str(ROOT / "hyperparameter_tuner.py")
ORCHESTRATOR = str(ROOT / "training_orchestrator.py")
CKPT_MANAGER = str(ROOT / "checkpoint_manager.py")

BASE = {
    "model": {"architecture": "mlp", "hidden_sizes": [16]},
    "data": {"train_path": "builtin:digits", "batch_size": 128},
    "training": {"epochs": 2, "learning_rate": 0.01},
    "checkpointing": {"monitor": "val_accuracy"},
    "logging": {"tensorboard": False},
}

SPEC_TUNING_FALLBACK = """\
search_space:
  learning_rate:
    type: loguniform
    low: 1.0e-5
    high: 1.0e-2
  batch_size:
    type: categorical
    choices: [16, 32, 64, 128]
  weight_decay:
    type: loguniform
    low: 1.0e-6
    high: 1.0e-3
  optimizer:
    type: categorical
    choices: [adam, adamw, sgd]
  lr_scheduler:
    type: categorical
    choices: [step, cosine, plateau]
optimization:
  method: bayesian  # grid, random, bayesian
  metric: val_accuracy
  direction: maximize
  n_trials: 50
  timeout_per_trial: 7200  # 2 hours
  n_startup_trials: 10  # Random trials before Bayesian
pruning:
  enabled: true
  patience: 5
  min_epochs: 10
  intermediate_metric: val_loss
parallel:
  n_jobs: 4
  gpu_per_trial: 1
"""


def spec_tuning_yaml() -> str:
    """SPEC.md's tuning_config.yaml, character for character."""
    if SPEC.exists():
        text = SPEC.read_text()
        match = re.search(r"### tuning_config.yaml\n```yaml\n(.*?)```", text, re.S)
        assert match is not None
        return match.group(1)
    return SPEC_TUNING_FALLBACK


def write_configs(
    folder: Path, tuning: dict[str, Any], base: dict[str, Any] | None = None
) -> Path:
    """training_config.yaml and tuning_config.yaml side by side, as SPEC keeps them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "training_config.yaml").write_text(yaml.safe_dump(base or BASE))
    path = folder / "tuning_config.yaml"
    path.write_text(yaml.safe_dump(tuning))
    return path


def tuning(
    space: dict[str, Any] | None = None, n_trials: int = 2, method: str = "random", **sections: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "search_space": space
        or {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-1}},
        "optimization": {
            "method": method,
            "metric": "val_accuracy",
            "n_trials": n_trials,
            "n_startup_trials": 1,
            "seed": 0,
        },
        "pruning": {"enabled": False},
    }
    for key, value in sections.items():
        out.setdefault(key, {}).update(value)
    return out


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env()
    )


def tune(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run([TUNER, *args], cwd, timeout)
