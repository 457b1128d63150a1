"""data.batch_size: auto, the trial steps: a copy of the model trains on repeated samples of
the training set at each size the search asks for (see batch_search for the decisions).

The run itself is untouched: the model and optimizer are copies, and the caller restores the
RNG state it had before (the run's data is then built with the size found).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from trainforge.config import TrainConfig
from trainforge.train.batch_search import SearchResult, fastest, largest_fitting
from trainforge.train.device import Precision
from trainforge.train.losses import build_loss
from trainforge.train.oom import is_out_of_memory
from trainforge.train.optim import build_optimizer

TIMED_STEPS = 3  # CPU: timed trial steps per size (at least), after one warm-up step
MIN_SECONDS = 0.05  # CPU: and at least this long per size
POOL = 256  # distinct samples the trial batches are cut from (repeated for larger batches)


class TrialSteps:
    """Forward, backward and optimizer steps of a model copy on batches of any size."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
        task: str,
        class_counts: list[int] | None,
        num_classes: int | None,
        device: torch.device,
    ) -> None:
        xs, ys, n = [], [], 0
        for x, y in batches:
            xs.append(x)
            ys.append(y)
            n += len(y)
            if n >= POOL:
                break
        self.x = torch.cat(xs).to(device)
        self.y = torch.cat(ys).to(device)
        self.device = device
        self.model = copy.deepcopy(model).to(device).train()
        self.optimizer = build_optimizer(self.model, cfg.training)
        self.precision = Precision(cfg.training.mixed_precision, device)
        self.loss_fn = build_loss(task, cfg.training, class_counts, num_classes, device)

    def step(self, size: int) -> None:
        index = torch.arange(size, device=self.device) % len(self.y)
        x, y = self.x[index], self.y[index]
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()

    def fits(self, size: int) -> bool:
        """One trial step at ``size``; False on out-of-memory (its memory released)."""
        failed = False
        try:
            self.step(size)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failed = True
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return not failed

    def throughput(self, size: int) -> float:
        """Samples per second at ``size`` after one warm-up step: at least ``TIMED_STEPS``
        steps and ``MIN_SECONDS`` of them, so tiny steps are not timed by the clock's noise."""
        self.step(size)
        started = time.perf_counter()
        steps, elapsed = 0, 0.0
        while steps < TIMED_STEPS or elapsed < MIN_SECONDS:
            self.step(size)
            steps += 1
            elapsed = time.perf_counter() - started
        return size * steps / elapsed


def find_batch_size(trials: TrialSteps, cap: int) -> SearchResult:
    """CUDA: the largest batch that fits; elsewhere the fastest (both at most ``cap``)."""
    if trials.device.type == "cuda":
        return largest_fitting(trials.fits, cap, start=8)
    return fastest(trials.throughput, cap)


def resolve_auto_batch_size(
    cfg: TrainConfig,
    model: nn.Module | None,
    train_data: Dataset[Any] | None,
    val_data: Dataset[Any] | None,
    device: torch.device,
    seed: int,
) -> tuple[TrainConfig, SearchResult]:
    """``cfg`` with ``data.batch_size: auto`` replaced by the size the trial steps chose.

    The trials run on a probe of the data (no workers) and a copy of the model; the caller
    reseeds afterwards, so the run's RNG stream and initial weights are those of a run
    configured with the chosen size from the start.
    """
    from trainforge.data import build_data
    from trainforge.models import build_model

    probe_cfg = cfg.data.model_copy(
        update={"batch_size": 64, "num_workers": 0, "persistent_workers": False}
    )
    probe = build_data(
        probe_cfg,
        seed=seed,
        device=device,
        train_data=train_data,
        val_data=val_data,
        num_classes=cfg.model.num_classes,
    )
    trial_model = copy.deepcopy(model) if model is not None else build_model(cfg.model, probe.spec)
    spec = probe.spec
    trials = TrialSteps(
        cfg,
        trial_model,
        probe.train.epoch(0),
        spec.task,
        probe.class_counts,
        spec.num_classes,
        device,
    )
    result = find_batch_size(trials, cap=probe.train.num_samples)
    data = cfg.data.model_copy(update={"batch_size": result.batch_size})
    return cfg.model_copy(update={"data": data}), result


def describe(result: SearchResult) -> str:
    """One console line: the size chosen and the trials behind it."""
    shown = ", ".join(
        f"{size}: {'out of memory' if rate is None else ('fits' if result.method.startswith('largest') else f'{rate:,.0f}/s')}"
        for size, rate in result.trials
    )
    return f"data.batch_size: auto chose {result.batch_size} ({result.method}; trials {shown})"


__all__ = ["TrialSteps", "describe", "find_batch_size", "resolve_auto_batch_size"]
