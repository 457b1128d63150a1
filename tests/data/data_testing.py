"""Helpers shared by the data-layer tests."""

from __future__ import annotations

from typing import Any

import torch

from trainforge.config.schema import DataConfig
from trainforge.data import Batches, DataBundle, build_data


def config(path: Any = None, **fields: Any) -> DataConfig:
    return DataConfig(train_path=None if path is None else str(path), **fields)


def build(path: Any = None, seed: int = 0, **fields: Any) -> DataBundle:
    return build_data(config(path, **fields), seed=seed, device=torch.device("cpu"))


def collect(
    batches: Batches, epoch: int = 0, start_batch: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(batches.epoch(epoch, start_batch))


def stacked(batches: Batches, epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    parts = collect(batches, epoch)
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])
