"""Test-set figures for a checkpoint being registered (the model card's evaluation section)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

_BATCH = 512


@dataclass
class TestResult:
    data: str
    samples: int
    metrics: dict[str, float]  # test_accuracy, test_f1, ... or test_mse, ...


def evaluate_checkpoint(checkpoint: str | Path, data: str) -> TestResult:
    """Run the checkpoint's model over ``data`` (CSV, image folder or builtin:NAME) with the
    preprocessing it was trained with; the metrics the trainer computes, prefixed ``test_``."""
    from trainforge.data import load_raw_inputs
    from trainforge.errors import DataError
    from trainforge.inference import load_model
    from trainforge.train.metrics import classification_metrics, regression_metrics

    model = load_model(checkpoint)
    inputs, targets = load_raw_inputs(data, model.spec)
    if targets is None:
        raise DataError(f"test data {data} has no target column, so it cannot be scored")
    with torch.inference_mode():
        outputs = torch.cat([model(inputs[i : i + _BATCH]) for i in range(0, len(inputs), _BATCH)])
    if model.spec.task == "regression":
        metrics = regression_metrics(outputs.reshape(-1), targets.float())
    else:
        metrics, _ = classification_metrics(outputs.float(), targets.long(), model.spec.num_classes)
    return TestResult(data, len(inputs), {f"test_{k}": float(v) for k, v in metrics.items()})


__all__ = ["TestResult", "evaluate_checkpoint"]
