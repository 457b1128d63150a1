"""The training loss: cross-entropy (label smoothing, class weights) or mean squared error."""

from __future__ import annotations

import torch
from torch import nn

from trainforge.config import TrainingConfig
from trainforge.errors import ConfigError


def build_loss(
    task: str,
    cfg: TrainingConfig,
    class_counts: list[int] | None,
    num_classes: int | None,
    device: torch.device,
) -> nn.Module:
    if task == "regression":
        return _Regression()
    weight = class_weight_tensor(cfg.class_weights, class_counts, num_classes or 0)
    return nn.CrossEntropyLoss(
        weight=weight.to(device) if weight is not None else None,
        label_smoothing=cfg.label_smoothing,
    )


class _Regression(nn.Module):
    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(out.reshape(-1).float(), target.float())


def class_weight_tensor(
    setting: str | list[float] | None, counts: list[int] | None, num_classes: int
) -> torch.Tensor | None:
    """``auto``: inverse class frequency, normalised to mean 1 over the classes."""
    if setting is None:
        return None
    if setting == "auto":
        if not counts:
            return None
        freq = torch.tensor(counts, dtype=torch.float32).clamp(min=1)
        weights = freq.sum() / (len(counts) * freq)
        return weights
    if len(setting) != num_classes:
        raise ConfigError(
            f"training.class_weights has {len(setting)} values but there are {num_classes} "
            "classes; give one weight per class or use class_weights: auto"
        )
    return torch.tensor(setting, dtype=torch.float32)
