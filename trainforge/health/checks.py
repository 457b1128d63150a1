"""All enabled rules over a run's series, with the thresholds of ``monitoring.rules``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainforge.config.metrics import metric_direction
from trainforge.config.monitoring import RulesConfig
from trainforge.health import rules
from trainforge.health.rules import Finding
from trainforge.health.series import Series, column, length


@dataclass(frozen=True)
class RunFacts:
    """What the rules need to know about the run besides its metrics."""

    schedule: str = "none"  # lr_scheduler.type
    warmup: bool = False  # lr_scheduler.warmup_epochs > 0

    @property
    def lr_changes_every_step(self) -> bool:
        return self.schedule == "cosine" or self.warmup


def evaluate(series: Series, cfg: RulesConfig, facts: RunFacts | None = None) -> list[Finding]:
    """Every finding of every enabled rule, in step order."""
    facts = facts or RunFacts()
    found: list[Finding] = []
    s, v, e, r = series.steps, series.validations, series.epochs, series.resources
    if length(s):
        step, epoch = column(s, "step"), column(s, "epoch")
        loss, norm = column(s, "loss"), column(s, "grad_norm")
        if cfg.nonfinite.enabled:
            found += rules.nonfinite(step, epoch, loss, norm)
        ex = cfg.exploding_gradients
        if ex.enabled:
            found += rules.exploding_gradients(
                step, epoch, norm, factor=ex.factor, window=ex.window, min_jump=ex.min_jump
            )
        sp = cfg.loss_spike
        if sp.enabled:
            found += rules.loss_spike(
                step, epoch, loss, factor=sp.factor, window=sp.window, min_jump=sp.min_jump
            )
        va = cfg.vanishing_gradients
        if va.enabled:
            found += rules.vanishing_gradients(
                step, epoch, norm, threshold=va.threshold, patience=va.patience
            )
        lr = cfg.learning_rate
        if lr.enabled:
            found += rules.learning_rate(
                step,
                epoch,
                column(s, "lr"),
                changes_every_step=facts.lr_changes_every_step,
                frozen_records=lr.frozen_records,
            )
        dl = cfg.data_loading
        if dl.enabled:
            found += rules.data_loading(
                step,
                epoch,
                column(s, "data_wait"),
                max_wait_fraction=dl.max_wait_fraction,
                window=dl.window,
            )
    if length(e):
        step, epoch = column(e, "step"), column(e, "epoch")
        of = cfg.overfitting
        if of.enabled:
            found += rules.overfitting_gap(
                step,
                epoch,
                column(e, "train_accuracy"),
                column(e, "val_accuracy"),
                max_gap=of.max_accuracy_gap,
            )
            found += rules.overfitting_divergence(
                step,
                epoch,
                column(e, "train_loss"),
                column(e, "val_loss"),
                rising=of.rising_epochs,
            )
        uf = cfg.underfitting
        if uf.enabled:
            found += rules.underfitting(
                step,
                epoch,
                column(e, "train_loss"),
                column(e, "val_loss"),
                min_epochs=uf.min_epochs,
                high_fraction=uf.high_fraction,
                flat_tolerance=uf.flat_tolerance,
                window=uf.window,
            )
    pl = cfg.plateau
    if pl.enabled and length(v) and pl.metric in v:
        found += rules.plateau(
            column(v, "step"),
            column(v, "epoch"),
            v[pl.metric],
            metric=pl.metric,
            mode=metric_direction(pl.metric) or "min",
            patience=pl.patience,
            min_delta=pl.min_delta,
        )
    gpu = cfg.gpu_utilization
    if gpu.enabled and length(r) and not np.all(np.isnan(column(r, "gpu_utilization"))):
        found += rules.gpu_utilization(
            column(r, "step"),
            column(r, "gpu_utilization"),
            min_percent=gpu.min_percent,
            window=gpu.window,
        )
    return sorted(found, key=lambda f: (f.step if f.step is not None else -1, f.rule))


def limit_per_rule(findings: list[Finding], limit: int) -> list[Finding]:
    """The first ``limit`` findings of each rule (stable: later findings never displace them)."""
    seen: dict[str, int] = {}
    kept = []
    for finding in findings:
        seen[finding.rule] = seen.get(finding.rule, 0) + 1
        if seen[finding.rule] <= limit:
            kept.append(finding)
    return kept
