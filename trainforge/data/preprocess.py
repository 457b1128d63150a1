"""From raw inputs (as in the data files) to model inputs: statistics and an nn.Module.

The same module produces the training tensors, so evaluation, prediction and exported
models see exactly what training saw. It uses plain tensor ops with constants in buffers,
which torch.onnx and torch.export handle.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from trainforge.data.spec import InputSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def standardisation(features: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-column mean and std of the training rows; a constant column keeps std 1."""
    x = features.to(torch.float64)
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    constant = x.amax(dim=0) == x.amin(dim=0)
    std = torch.where(constant | (std == 0), torch.ones_like(std), std)
    return mean.tolist(), std.tolist()


def pixel_scale_for(max_value: float) -> float:
    """8-bit pixels (anything above 1) are scaled to [0, 1]; [0, 1] data is left as is."""
    return 1.0 / 255.0 if max_value > 1 else 1.0


def channel_stats(images: Iterable[torch.Tensor]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over batches of scaled images [N, C, H, W]."""
    total = sq = None
    count = 0
    for batch in images:
        x = batch.to(torch.float64)
        s, q = x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3))
        total = s if total is None else total + s
        sq = q if sq is None else sq + q
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if total is None or sq is None or count == 0:
        raise ValueError("no images to compute statistics from")
    mean = total / count
    std = (sq / count - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std < 1e-12, torch.ones_like(std), std)
    return mean.tolist(), std.tolist()


def normalisation(
    mode: str, channels: int, images: Iterable[torch.Tensor]
) -> tuple[list[float], list[float], list[str]]:
    """(mean, std, notices) for ``augmentation.normalize``; ``images`` are read only for "dataset"."""
    if mode == "none":
        return [0.0] * channels, [1.0] * channels, []
    if mode == "dataset":
        mean, std = channel_stats(images)
        return mean, std, []
    if channels == 3:
        return list(IMAGENET_MEAN), list(IMAGENET_STD), []
    avg_mean, avg_std = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    notice = (
        f"augmentation.normalize: imagenet on {channels}-channel images uses the average of "
        f"ImageNet's channel statistics (mean {avg_mean:.3f}, std {avg_std:.3f})"
    )
    return [avg_mean] * channels, [avg_std] * channels, [notice]


class Standardise(nn.Module):
    """Tabular rows [N, F] → (x - mean) / std."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float32) - self.mean) / self.std


class ImageInput(nn.Module):
    """Raw pixels → scaled, normalised images [N, C, H, W].

    Flat rows [N, H*W] (pixel CSVs) are reshaped first; images are expected at their
    training size already (files are resized when they are read).
    """

    scale: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, shape: list[int], scale: float, mean: list[float], std: list[float], flat: bool
    ) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.flat = flat
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.flat:
            x = x.reshape(-1, *self.shape)
        return (x * self.scale - self.mean) / self.std


def build_preprocess(spec: InputSpec) -> nn.Module:
    """The module mapping raw inputs (as in the data files) to what the model receives."""
    p = spec.preprocessing
    if not p:  # custom datasets arrive ready for the model
        return nn.Identity()
    if spec.kind == "tabular":
        return Standardise(p["mean"], p["std"])
    flat = p.get("input_layout") == "flat"
    return ImageInput(spec.shape, float(p["pixel_scale"]), p["mean"], p["std"], flat)


@torch.no_grad()
def apply_preprocess(module: nn.Module, raw: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """``module(raw)`` in chunks, so the temporaries of large in-memory data sets stay small."""
    if raw.shape[0] <= chunk:
        return module(raw).contiguous()
    return torch.cat([module(part) for part in raw.split(chunk)]).contiguous()


def preprocessed_zero(spec: InputSpec) -> list[float]:
    """Per-channel model-input value of a black (zero) pixel: what crop padding fills in."""
    p = spec.preprocessing
    if spec.kind != "image" or not p:
        return [0.0]
    return [-m / s for m, s in zip(p["mean"], p["std"], strict=True)]


def image_preprocessing(
    *,
    layout: str,
    shape: list[int],
    resize: tuple[int, int] | None,
    pixel_scale: float,
    normalize: str,
    mean: list[float],
    std: list[float],
) -> dict[str, object]:
    """The ``InputSpec.preprocessing`` entry of image data (see InputSpec)."""
    return {
        "input_layout": layout,
        "channels": shape[0],
        "image_size": [shape[1], shape[2]],
        "resize": list(resize) if resize is not None else None,
        "pixel_scale": pixel_scale,
        "normalize": normalize,
        "mean": mean,
        "std": std,
    }
