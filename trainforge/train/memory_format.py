"""training.channels_last: whether a run keeps images and convolution weights NHWC (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

ChannelsLast = bool | Literal["auto"]


def use_channels_last(setting: ChannelsLast, device_type: str, sample_shape: Sequence[int]) -> bool:
    """true/false as asked; ``auto``: on for image batches (4-D: N, C, H, W) on CUDA, where
    convolutions run faster in channels_last, and off elsewhere.

    Only 4-D batches have a channels_last layout: a flat input keeps its own whatever the
    setting (the model's weights still convert; that is harmless).
    """
    if setting == "auto":
        return device_type == "cuda" and len(sample_shape) == 3
    return bool(setting)


__all__ = ["ChannelsLast", "use_channels_last"]
