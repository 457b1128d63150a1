"""Deciding what a non-finite loss or gradient means (pure), for ``training.nan_policy``."""

from __future__ import annotations

from typing import Literal

Verdict = Literal["ok", "scaler_skip", "nonfinite"]

# Below this the fp16 loss scale has collapsed: overflow is no longer the explanation.
MIN_LOSS_SCALE = 1.0


def step_verdict(
    loss: float, grad_norm: float, *, scaler_active: bool, loss_scale: float | None = None
) -> Verdict:
    """Classify one optimizer step.

    With fp16 loss scaling, infinite gradients are the scaler's business (it skips the step and
    lowers the scale): that is normal early in training. A NaN/Inf *loss*, or a scale that has
    fallen below ``MIN_LOSS_SCALE``, is divergence.
    """
    if loss != loss or loss in (float("inf"), float("-inf")):
        return "nonfinite"
    if grad_norm == grad_norm and grad_norm not in (float("inf"), float("-inf")):
        return "ok"
    if scaler_active and (loss_scale is None or loss_scale >= MIN_LOSS_SCALE):
        return "scaler_skip"
    return "nonfinite"
