"""Realistic random inputs for export and verification, derived from the checkpoint's spec.

Raw inputs look like the training data files: tabular rows around the training mean with
its spread, pixel values in the data's range (0..255, 0..16 for builtin digits, 0..1), pixel
CSV rows flat. Model-space inputs are those raw inputs after the training preprocessing.
"""

from __future__ import annotations

import torch
from torch import nn

from trainforge.data.raw import raw_shape
from trainforge.data.spec import InputSpec

EXPORT_BATCH = 2
"""Export traces a batch of 2: with 1, exporters may specialise the batch dimension to 1."""
VERIFY_BATCHES = (1, 7)
SEED = 0


def input_shape(spec: InputSpec, *, raw: bool) -> list[int]:
    """One sample's shape: as in the data files (``raw``) or as the network receives it."""
    return raw_shape(spec) if raw and spec.preprocessing else list(spec.shape)


def raw_inputs(spec: InputSpec, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A batch that could have come from the training data files."""
    p = spec.preprocessing
    if not p:  # custom datasets: the network's own input space
        return torch.randn(batch, *spec.shape, generator=generator)
    if spec.kind == "tabular":
        mean = torch.tensor(p["mean"], dtype=torch.float32)
        std = torch.tensor(p["std"], dtype=torch.float32)
        noise = torch.randn(batch, len(mean), generator=generator)
        return mean + std * noise
    shape = (batch, *raw_shape(spec))
    top = round(1.0 / float(p["pixel_scale"]))
    if top > 1:  # integer pixel values 0..top, like image files and pixel CSVs
        return torch.randint(0, top + 1, shape, generator=generator).to(torch.float32)
    return torch.rand(shape, generator=generator)


def sample_inputs(
    spec: InputSpec, preprocess: nn.Module, batch: int, generator: torch.Generator, *, raw: bool
) -> torch.Tensor:
    """Raw inputs, or (``raw=False``) the same after the training preprocessing."""
    inputs = raw_inputs(spec, batch, generator)
    if raw:
        return inputs
    with torch.no_grad():  # not inference_mode: exporters trace these tensors with autograd on
        return preprocess(inputs)
