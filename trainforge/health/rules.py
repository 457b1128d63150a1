"""Health rules: pure functions from metric series to findings.

Each rule takes numpy arrays (one entry per log record) and its thresholds, and returns the
*onsets* of its episodes: the records where the condition becomes true. Every rule is causal
(record i is judged from records 0..i only), so the findings of a growing log never change
once made: the live monitor and the offline report run these same functions and agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainforge.health.windows import onsets, trailing_mean, trailing_median_where

FloatArray = np.ndarray

# What SPEC.md's Troubleshooting section suggests, per problem.
FIX_NONFINITE = (
    "reduce training.learning_rate by 10x, set training.gradient_clip: 1.0, "
    "check the data for NaN/inf values"
)
FIX_EXPLODING = "set training.gradient_clip: 1.0 or lower training.learning_rate"
FIX_SPIKE = "lower training.learning_rate, set training.gradient_clip, or raise data.batch_size"
FIX_VANISHING = (
    "raise training.learning_rate, check the model for saturated activations (use relu/gelu)"
)
FIX_OVERFITTING = (
    "add or increase model.dropout, increase training.weight_decay, enable data augmentation, "
    "reduce model capacity, or get more training data"
)
FIX_UNDERFITTING = (
    "increase model capacity, train longer, reduce regularization, increase "
    "training.learning_rate, check data preprocessing"
)
FIX_PLATEAU = (
    "use lr_scheduler.type: plateau or cosine, or enable early_stopping to save the compute"
)
FIX_LR_ZERO = "check lr_scheduler (min_lr, factor) and training.learning_rate"
FIX_LR_FROZEN = "the schedule is not being applied; check lr_scheduler and a custom optimizer"
FIX_GPU = (
    "increase data.batch_size, increase data.num_workers, set data.pin_memory: true, "
    "enable training.mixed_precision"
)
FIX_DATA = "increase data.num_workers, set data.pin_memory: true and data.persistent_workers: true"


@dataclass(frozen=True)
class Finding:
    """One alert: which rule, where in the run, why (evidence) and what to do (fix)."""

    rule: str
    level: str
    step: int | None
    epoch: int | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""

    def key(self) -> tuple[str, int | None, int | None]:
        return (self.rule, self.step, self.epoch)


def _at(steps: np.ndarray, i: int) -> int | None:
    return int(steps[i]) if steps.size > i else None


def _num(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def nonfinite(
    steps: np.ndarray, epochs: np.ndarray, loss: FloatArray, grad_norm: FloatArray
) -> list[Finding]:
    """A NaN or infinite loss or gradient norm."""
    bad = ~np.isfinite(loss) | ~np.isfinite(grad_norm)
    out = []
    for i in onsets(bad):
        what = "loss" if not np.isfinite(loss[i]) else "gradient norm"
        out.append(
            Finding(
                "nonfinite",
                "error",
                _at(steps, i),
                _at(epochs, i),
                f"non-finite {what} at step {int(steps[i])}",
                {"loss": str(float(loss[i])), "grad_norm": str(float(grad_norm[i]))},
                FIX_NONFINITE,
            )
        )
    return out


def _spikes(
    rule: str,
    name: str,
    steps: np.ndarray,
    epochs: np.ndarray,
    values: FloatArray,
    factor: float,
    window: int,
    fix: str,
    min_jump: float,
) -> list[Finding]:
    median = trailing_median_where(values, window, factor)
    # Relative jumps of tiny values (a loss of 1e-4 doubling) are noise: the jump must also be
    # a visible share of the run's starting level (the median of its first window).
    finite = values[:window][np.isfinite(values[:window])]
    start = float(np.median(finite)) if finite.size else np.nan
    with np.errstate(invalid="ignore"):
        high = np.isfinite(values) & np.isfinite(median) & (values > factor * median)
        high &= (values - median) > min_jump * abs(start)
    out = []
    for i in onsets(high):
        out.append(
            Finding(
                rule,
                "warning",
                _at(steps, i),
                _at(epochs, i),
                f"{name} {values[i]:.4g} at step {int(steps[i])} is {values[i] / median[i]:.1f}x "
                f"its median of the previous {window} records ({median[i]:.4g})",
                {name: _num(values[i]), "median": _num(median[i]), "factor": factor},
                fix,
            )
        )
    return out


def exploding_gradients(
    steps: np.ndarray,
    epochs: np.ndarray,
    grad_norm: FloatArray,
    *,
    factor: float,
    window: int,
    min_jump: float = 0.1,
) -> list[Finding]:
    """The gradient norm far above its running median (and by ``min_jump`` x its start)."""
    return _spikes(
        "exploding_gradients",
        "grad_norm",
        steps,
        epochs,
        grad_norm,
        factor,
        window,
        FIX_EXPLODING,
        min_jump,
    )


def loss_spike(
    steps: np.ndarray,
    epochs: np.ndarray,
    loss: FloatArray,
    *,
    factor: float,
    window: int,
    min_jump: float = 0.1,
) -> list[Finding]:
    """The step loss far above its running median (and by ``min_jump`` x its start)."""
    return _spikes("loss_spike", "loss", steps, epochs, loss, factor, window, FIX_SPIKE, min_jump)


def vanishing_gradients(
    steps: np.ndarray, epochs: np.ndarray, grad_norm: FloatArray, *, threshold: float, patience: int
) -> list[Finding]:
    """The gradient norm at or below ``threshold`` for ``patience`` records in a row."""
    low = np.isfinite(grad_norm) & (grad_norm <= threshold)
    run = trailing_mean(low.astype(np.float64), patience) >= 1.0
    return [
        Finding(
            "vanishing_gradients",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"gradient norm at or below {threshold:g} for {patience} records (step {int(steps[i])})",
            {"grad_norm": _num(grad_norm[i]), "threshold": threshold},
            FIX_VANISHING,
        )
        for i in onsets(run)
    ]


def overfitting_gap(
    steps: np.ndarray,
    epochs: np.ndarray,
    train_accuracy: FloatArray,
    val_accuracy: FloatArray,
    *,
    max_gap: float,
) -> list[Finding]:
    """Train accuracy more than ``max_gap`` above validation accuracy (per epoch record)."""
    gap = np.asarray(train_accuracy) - np.asarray(val_accuracy)
    with np.errstate(invalid="ignore"):
        wide = np.isfinite(gap) & (gap > max_gap)
    return [
        Finding(
            "overfitting",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"train accuracy {train_accuracy[i]:.1%} vs validation {val_accuracy[i]:.1%} at epoch "
            f"{int(epochs[i])}: a {gap[i]:.1%} gap (threshold {max_gap:.0%})",
            {
                "train_accuracy": _num(train_accuracy[i]),
                "val_accuracy": _num(val_accuracy[i]),
                "gap": _num(gap[i]),
            },
            FIX_OVERFITTING,
        )
        for i in onsets(wide)
    ]


def overfitting_divergence(
    steps: np.ndarray,
    epochs: np.ndarray,
    train_loss: FloatArray,
    val_loss: FloatArray,
    *,
    rising: int,
) -> list[Finding]:
    """Validation loss rising for ``rising`` epochs in a row while train loss falls."""
    val, train = np.asarray(val_loss), np.asarray(train_loss)
    if val.size <= rising:
        return []
    with np.errstate(invalid="ignore"):
        up = np.concatenate(([False], np.diff(val) > 0))
        down = np.concatenate(([False], np.diff(train) < 0))
    both = trailing_mean((up & down).astype(np.float64), rising) >= 1.0
    return [
        Finding(
            "overfitting",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"val_loss rose for {rising} epochs in a row (to {val[i]:.4g} at epoch "
            f"{int(epochs[i])}) while train_loss fell (to {train[i]:.4g})",
            {"val_loss": _num(val[i]), "train_loss": _num(train[i]), "epochs": rising},
            FIX_OVERFITTING,
        )
        for i in onsets(both)
    ]


def underfitting(
    steps: np.ndarray,
    epochs: np.ndarray,
    train_loss: FloatArray,
    val_loss: FloatArray,
    *,
    min_epochs: int,
    high_fraction: float,
    flat_tolerance: float,
    window: int,
) -> list[Finding]:
    """Both losses still high (near the first epoch's train loss) and flat over ``window``."""
    train, val = np.asarray(train_loss, dtype=np.float64), np.asarray(val_loss, dtype=np.float64)
    if train.size < max(min_epochs, window + 1) or not np.isfinite(train[0]):
        return []
    first = train[0]
    earlier = np.concatenate((np.full(window, np.nan), train[:-window]))
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.abs(earlier - train) / np.abs(earlier)
        high = (train > high_fraction * first) & (val > high_fraction * first)
        flat = change <= flat_tolerance
    index = np.arange(train.size)
    judged = high & flat & (index + 1 >= min_epochs)
    return [
        Finding(
            "underfitting",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"train_loss {train[i]:.4g} and val_loss {val[i]:.4g} at epoch {int(epochs[i])} are "
            f"still above {high_fraction:.0%} of the first epoch's {first:.4g} and flat over "
            f"{window} epochs",
            {
                "train_loss": _num(train[i]),
                "val_loss": _num(val[i]),
                "first_train_loss": _num(first),
                "relative_change": _num(change[i]),
            },
            FIX_UNDERFITTING,
        )
        for i in onsets(judged)
    ]


def plateau(
    steps: np.ndarray,
    epochs: np.ndarray,
    values: FloatArray,
    *,
    metric: str,
    mode: str,
    patience: int,
    min_delta: float,
) -> list[Finding]:
    """No new best of ``metric`` (by a relative ``min_delta``) in ``patience`` validations."""
    v = np.asarray(values, dtype=np.float64)
    if v.size <= patience:
        return []
    signed = v if mode == "min" else -v
    signed = np.where(np.isfinite(signed), signed, np.inf)
    best = np.minimum.accumulate(signed)
    # A record is progress when it beats the best before it by min_delta (relative).
    before = np.concatenate(([np.inf], best[:-1]))
    with np.errstate(invalid="ignore"):
        progress = signed < before - min_delta * np.abs(np.where(np.isfinite(before), before, 0))
    stalled = trailing_mean((~progress).astype(np.float64), patience) >= 1.0
    return [
        Finding(
            "plateau",
            "info",
            _at(steps, i),
            _at(epochs, i),
            f"{metric} has not improved in {patience} validations (best "
            f"{abs(best[i]):.4g}, now {v[i]:.4g})",
            {metric: _num(v[i]), "best": _num(abs(best[i])), "validations": patience},
            FIX_PLATEAU,
        )
        for i in onsets(stalled)
    ]


def learning_rate(
    steps: np.ndarray,
    epochs: np.ndarray,
    lr: FloatArray,
    *,
    changes_every_step: bool,
    frozen_records: int,
) -> list[Finding]:
    """The LR at zero; or, under a schedule that moves it every step (cosine, warm-up),
    unchanged for ``frozen_records`` step records."""
    lr = np.asarray(lr, dtype=np.float64)
    out = [
        Finding(
            "learning_rate",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"learning rate is zero at step {int(steps[i])}",
            {"lr": _num(lr[i])},
            FIX_LR_ZERO,
        )
        for i in onsets(np.isfinite(lr) & (lr <= 0.0))
    ]
    if changes_every_step and lr.size > frozen_records:
        same = np.concatenate(([False], np.diff(lr) == 0))
        frozen = trailing_mean(same.astype(np.float64), frozen_records - 1) >= 1.0
        out += [
            Finding(
                "learning_rate",
                "warning",
                _at(steps, i),
                _at(epochs, i),
                f"learning rate frozen at {lr[i]:.4g} for {frozen_records} records while a "
                "schedule is set",
                {"lr": _num(lr[i]), "records": frozen_records},
                FIX_LR_FROZEN,
            )
            for i in onsets(frozen & (lr > 0))
        ]
    return out


def gpu_utilization(
    steps: np.ndarray, utilization: FloatArray, *, min_percent: float, window: int
) -> list[Finding]:
    """Mean GPU utilisation over ``window`` resource samples under ``min_percent``."""
    mean = trailing_mean(utilization, window)
    with np.errstate(invalid="ignore"):
        low = np.isfinite(mean) & (mean < min_percent)
    return [
        Finding(
            "gpu_utilization",
            "warning",
            _at(steps, i),
            None,
            f"GPU utilisation averaged {mean[i]:.0f}% over {window} samples (should be "
            f">{min_percent:.0f}%)",
            {"utilization_percent": _num(mean[i]), "min_percent": min_percent},
            FIX_GPU,
        )
        for i in onsets(low)
    ]


def data_loading(
    steps: np.ndarray,
    epochs: np.ndarray,
    data_wait: FloatArray,
    *,
    max_wait_fraction: float,
    window: int,
) -> list[Finding]:
    """Mean share of step time spent waiting for data above ``max_wait_fraction``."""
    mean = trailing_mean(data_wait, window)
    with np.errstate(invalid="ignore"):
        slow = np.isfinite(mean) & (mean > max_wait_fraction)
    return [
        Finding(
            "data_loading",
            "warning",
            _at(steps, i),
            _at(epochs, i),
            f"{mean[i]:.0%} of step time spent waiting for data over {window} records "
            f"(threshold {max_wait_fraction:.0%}): data loading is the bottleneck",
            {"data_wait": _num(mean[i]), "max_wait_fraction": max_wait_fraction},
            FIX_DATA,
        )
        for i in onsets(slow)
    ]
