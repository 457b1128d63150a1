"""Gradient accumulation: the arithmetic of a window (pure), and the forward and backward
passes of the batches one optimizer step sums."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from trainforge.config import DataConfig
from trainforge.data import Batches
from trainforge.train.device import Precision
from trainforge.train.distributed import DistContext
from trainforge.train.oom_policy import OomPolicy


def window_sample_count(
    first_batch: int,
    n_batches: int,
    batch_size: int,
    num_samples: int,
    accumulation: int,
    drop_last: bool,
) -> int:
    """Samples in the accumulation window that starts at batch ``first_batch`` of an epoch.

    Each micro-batch's mean loss is weighted by its share of this count, so the accumulated
    gradient equals the gradient of one big batch.
    """
    last = min(first_batch + accumulation, n_batches)
    total = 0
    for b in range(first_batch, last):
        is_final = b == n_batches - 1
        size = batch_size if (drop_last or not is_final) else num_samples - b * batch_size
        total += max(0, min(batch_size, size))
    return max(1, total)


class AccumulationWindow:
    """The batches of one optimizer step: their gradients, accumulated in the model, and the
    sums the step logs (loss weighted by each batch's share of the window's samples, correct
    predictions), kept on the device so that the step syncs once."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        precision: Precision,
        device: torch.device,
        batches: Batches,
        data: DataConfig,
        *,
        accumulation: int,
        memory_format: torch.memory_format,
        classification: bool,
        dist: DistContext,
        oom: OomPolicy,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.precision = precision
        self.device = device
        self.batches = batches
        self.batch_size = data.batch
        self.drop_last = data.drop_last
        self.accumulation = accumulation
        self.memory_format = memory_format
        self.classification = classification
        self.dist = dist
        self.oom = oom
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device)
        self.samples = 1
        self.held: list[tuple[torch.Tensor, torch.Tensor]] = []  # an OOM redo needs them

    def open(self, first_batch: int) -> None:
        """Start the window that begins at batch ``first_batch`` of the epoch."""
        self.drop()
        self.samples = window_sample_count(
            first_batch,
            len(self.batches),
            self.batch_size,
            self.batches.num_samples,
            self.accumulation,
            self.drop_last,
        )
        self.held.clear()

    def add(self, x: torch.Tensor, y: torch.Tensor, *, closes: bool, step: int, epoch: int) -> None:
        """Forward and backward one loader batch (``closes``: the window's last)."""
        self.held.append((x, y))
        with self._grad_sync(closes):
            self.oom.train_newest(self.held, self._train_batch, self.drop, step=step, epoch=epoch)

    def drop(self) -> None:
        """Forget the gradients and sums so far (a new window, or an out-of-memory redo)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.loss.zero_()
        self.correct.zero_()

    def _train_batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Forward and backward one loader batch, cut into micro-batches after a shrink."""
        if x.dim() == 4:  # training.channels_last: images as NHWC (the model is, see session)
            x = x.to(self.device, non_blocking=True, memory_format=self.memory_format)
        else:
            x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        size = self.oom.micro_batch.size
        pieces = zip(x.split(size), y.split(size), strict=True) if size else [(x, y)]
        for xs, ys in pieces:
            weight = len(ys) / self.samples
            out, loss = self._forward_backward(xs, ys, weight)
            self.loss += loss.detach().float() * weight
            if self.classification:
                self.correct += (out.detach().argmax(1) == ys).sum()

    def _forward_backward(
        self, x: torch.Tensor, y: torch.Tensor, weight: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One micro-batch; its mean loss is weighted by its share of the window."""
        with self.precision.autocast():
            out = self.model(x)
            loss = self.loss_fn(out, y)
        scaled = loss * weight
        if self.precision.scaler is not None:
            self.precision.scaler.scale(scaled).backward()
        else:
            scaled.backward()
        return out, loss

    def _grad_sync(self, closes: bool) -> contextlib.AbstractContextManager[Any]:
        """Data-parallel: gradients are all-reduced once per optimizer step, on the batch
        that closes the window, not after every batch."""
        no_sync: Any = getattr(self.model, "no_sync", None)
        if self.dist.enabled and not closes and no_sync is not None:
            return no_sync()  # type: ignore[no-any-return]
        return contextlib.nullcontext()
