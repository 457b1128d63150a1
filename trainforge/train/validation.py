"""One pass over the validation data: the loss and every metric of the task."""

from __future__ import annotations

import torch
from torch import nn

from trainforge.data import Batches, InputSpec
from trainforge.train.device import Precision
from trainforge.train.metrics import classification_metrics, regression_metrics


def run_validation(
    model: nn.Module,
    batches: Batches,
    loss_fn: nn.Module,
    precision: Precision,
    device: torch.device,
    spec: InputSpec,
    *,
    max_batches: int | None = None,
) -> tuple[dict[str, float], list[list[int]] | None]:
    """Metrics without a split prefix (``loss``, ``accuracy``, ...) and the confusion matrix.

    The model is put in eval mode for the pass and back in its previous mode after; nothing
    here draws from the global RNG.
    """
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    with torch.inference_mode():
        for i, (x, y) in enumerate(batches.epoch(0)):
            if max_batches is not None and i >= max_batches:
                break
            x = x.to(device, non_blocking=True)
            with precision.autocast():
                out = model(x)
            outputs.append(out.float().cpu())
            targets.append(y)
        model.train(was_training)
        logits, target = torch.cat(outputs), torch.cat(targets)
        # The loss of the whole set at once: with class weights, a mean of per-batch means
        # would weight each batch by its size instead of by its samples' class weights.
        loss = loss_fn(logits.to(device), target.to(device))
    metrics = {"loss": float(loss)}
    if spec.task != "classification":
        metrics.update(regression_metrics(logits, target))
        return metrics, None
    scores, matrix = classification_metrics(logits, target, spec.num_classes or logits.shape[1])
    metrics.update(scores)
    return metrics, matrix.tolist()
