"""The gradient norm every optimizer step records, and ``training.gradient_clip``.

``torch.nn.utils.clip_grad_norm_`` always multiplies every gradient by its clip coefficient,
even when that coefficient is 1 (no clip set, or a norm under the limit): a pass over all the
gradients that changes nothing and, on a small model, costs more than measuring the norm.
Here the norm is measured with fused foreach ops on the device, and the gradients are scaled
only when the step's norm, read with the loss in the step's one host sync, is over the limit.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

# clip_grad_norm_'s guard against a zero norm: coefficient = max_norm / (norm + EPS).
EPS = 1e-6


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    """The 2-norm of all gradients together, on the device, without syncing; parameters
    without a gradient are skipped (0 when none has one)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads)


def needs_clipping(norm: float, max_norm: float | None) -> bool:
    """Whether ``clip_grad_norm_`` would change the gradients: its coefficient
    ``max_norm / (norm + EPS)``, capped at 1, is below 1. The margin keeps a norm within
    float32 rounding of the limit on the clipping side, where the exact computation runs."""
    if not max_norm:
        return False
    return (norm + EPS) * (1 + 1e-5) > max_norm


def clip_to(parameters: Iterable[torch.nn.Parameter], max_norm: float, norm: torch.Tensor) -> None:
    """Scale the gradients as ``clip_grad_norm_(parameters, max_norm)`` would, given the norm
    already measured."""
    torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, norm)
