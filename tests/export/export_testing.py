"""Real short training runs for the export/evaluate/predict tests, and small comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import trainforge
from trainforge.train.result import RunResult

TINY_CNN = {"architecture": "simple_cnn", "channels": [4, 8]}
TINY_MLP = {"architecture": "mlp", "hidden_sizes": [16], "dropout": 0.1}


def train(folder: Path, model: dict[str, Any], data: dict[str, Any], epochs: int = 1) -> RunResult:
    """A one-epoch run; its ``last.pth`` holds the final validation's metrics."""
    config: dict[str, Any] = {
        "model": model,
        "data": {"batch_size": 32, **data},
        "training": {"epochs": epochs, "learning_rate": 0.01},
        "logging": {"progress_bar": "off"},
        "reproducibility": {"seed": 0},
    }
    return trainforge.fit(config, output=folder / "run")


def last_checkpoint(result: RunResult) -> Path:
    return result.run_dir / "checkpoints" / "last.pth"


def as_double(values: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double()
    return torch.from_numpy(np.array(values, dtype=np.float64))


def max_diff(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    left, right = as_double(a), as_double(b)
    assert left.shape == right.shape, (left.shape, right.shape)
    return float((left - right).abs().max())
