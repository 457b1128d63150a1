"""Helpers for the monitor's tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def digits_config(train: Path, val: Path, **training: Any) -> dict[str, Any]:
    return {
        "model": {"architecture": "mlp", "hidden_sizes": [64]},
        "data": {"train_path": str(train), "val_path": str(val), "batch_size": 64},
        "training": {"epochs": 6, "learning_rate": 0.003, **training},
        "lr_scheduler": {"type": "cosine"},
        "checkpointing": {"monitor": "val_accuracy", "keep_top_k": 1},
        "logging": {"log_every_n_steps": 2, "progress_bar": "off", "tensorboard": False},
        "reproducibility": {"seed": 0},
    }
