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


def write_configs(folder: Path, tuning: dict[str, Any], base: dict[str, Any] | None = None) -> Path:
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


# A user's model (architecture: "tune_model:Net") whose behaviour a trial's parameters choose:
# the real ways a trial goes wrong, with nothing mocked.
USER_MODEL = """
import math
import time

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, mode: str = "ok"):
        super().__init__()
        self.mode = mode
        self.fc = nn.Linear(64 * in_channels, num_classes)

    def forward(self, x):
        if self.mode == "hang":
            time.sleep(10_000)
        if self.mode == "slow":
            time.sleep(0.2)
        if self.mode == "crash":
            raise RuntimeError("the user's model broke")
        out = self.fc(x.flatten(1))
        if self.mode == "nan":
            out = out * math.nan
        return out
"""


def user_model_base(folder: Path, epochs: int = 1) -> dict[str, Any]:
    (folder / "tune_model.py").write_text(USER_MODEL)
    base = {k: dict(v) for k, v in BASE.items()}
    base["model"] = {"architecture": "tune_model:Net"}
    base["training"] = {"epochs": epochs, "learning_rate": 0.01, "nan_policy": "stop"}
    return base


def search(
    folder: Path,
    tuning_dict: dict[str, Any],
    base: dict[str, Any] | None = None,
    n_jobs: int = 1,
    study_name: str = "s",
) -> Any:
    """A search through the Python API (the forkserver is shared by a test file's searches)."""
    from trainforge.config import load_config
    from trainforge.config.tuning import TuneConfig
    from trainforge.tune import Plan, run_search

    tuning = TuneConfig.model_validate(tuning_dict)
    plan = Plan(
        tuning=tuning,
        base=load_config(base or BASE),
        output=folder / "out",
        study_name=study_name,
        storage=f"sqlite:///{folder}/studies.db",
        n_trials=tuning.optimization.n_trials,
        n_jobs=n_jobs,
        gpus=[],
        threads=None,
    )
    return run_search(plan)
