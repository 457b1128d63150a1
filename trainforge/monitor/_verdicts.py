"""The report's first section: converged? overfitting? underfitting? anomalies?

Pure functions of the series, the rule findings and the run's events; each verdict carries
its evidence and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainforge.health.rules import FIX_OVERFITTING, FIX_UNDERFITTING, Finding
from trainforge.health.series import Series, column, length

ANOMALY_RULES = (
    "nonfinite",
    "exploding_gradients",
    "loss_spike",
    "vanishing_gradients",
    "learning_rate",
    "gpu_utilization",
    "data_loading",
    "rollback",
)


@dataclass
class Verdict:
    question: str
    answer: str  # "yes", "no", "unknown"
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""

    @property
    def bad(self) -> bool:
        good = self.question == "converged?"
        return self.answer == ("no" if good else "yes")


def verdicts(
    series: Series,
    findings: list[Finding],
    events: list[dict[str, Any]],
    alerts: list[dict[str, Any]] | None = None,
    *,
    converged_tolerance: float = 0.01,
    window: int = 3,
) -> list[Verdict]:
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    return [
        converged(series, by_rule, events, tolerance=converged_tolerance, window=window),
        _from_rule(
            "overfitting?",
            by_rule.get("overfitting", []),
            FIX_OVERFITTING,
            _gap_summary(series),
        ),
        _from_rule(
            "underfitting?",
            by_rule.get("underfitting", []),
            FIX_UNDERFITTING,
            "losses fell well below their first-epoch level",
        ),
        anomalies(findings, alerts or []),
    ]


def _val_loss(series: Series) -> np.ndarray:
    e, v = series.epochs, series.validations
    if length(e) and np.isfinite(column(e, "val_loss")).any():
        return column(e, "val_loss")
    return column(v, "val_loss") if length(v) else np.zeros(0)


def converged(
    series: Series,
    by_rule: dict[str, list[Finding]],
    events: list[dict[str, Any]],
    *,
    tolerance: float,
    window: int,
) -> Verdict:
    """Converged when early stopping fired, the plateau rule fired, or val_loss moved by less
    than ``tolerance`` (relative) over the last ``window`` validations."""
    question = "converged?"
    stops = [e for e in events if e.get("event") == "early_stop"]
    if stops:
        stop = stops[-1]
        return Verdict(
            question,
            "yes",
            f"early stopping ended the run at step {stop.get('step')}",
            [f"{stop.get('metric')} best {stop.get('best')}"],
        )
    loss = _val_loss(series)
    loss = loss[np.isfinite(loss)]
    if loss.size <= window:
        return Verdict(
            question,
            "unknown",
            f"only {loss.size} validation(s) logged; need more than {window} to judge",
            fix="train for more epochs",
        )
    before, last = float(loss[-window - 1]), float(loss[-1])
    change = (before - last) / abs(before) if before else 0.0
    evidence = [
        f"val_loss {before:.4g} -> {last:.4g} over the last {window} validations "
        f"({change:+.1%} improvement)",
        f"best val_loss {float(loss.min()):.4g}",
    ]
    plateaus = by_rule.get("plateau", [])
    if plateaus:
        evidence.append(plateaus[-1].message)
    if abs(change) < tolerance or plateaus:
        return Verdict(question, "yes", "the validation loss has levelled off", evidence)
    if change < 0:
        return Verdict(
            question,
            "no",
            "the validation loss is rising",
            evidence,
            fix="see the overfitting verdict; early stopping keeps the best checkpoint",
        )
    return Verdict(
        question,
        "no",
        "the validation loss was still falling",
        evidence,
        fix="train for more epochs (training.epochs) or raise the learning rate",
    )


def _gap_summary(series: Series) -> str:
    e = series.epochs
    if not length(e) or "train_accuracy" not in e or "val_accuracy" not in e:
        return "no train/val divergence found"
    gap = e["train_accuracy"][-1] - e["val_accuracy"][-1]
    if not np.isfinite(gap):
        return "no train/val divergence found"
    return f"final train-val accuracy gap {gap:.1%}"


def _from_rule(question: str, found: list[Finding], fix: str, healthy: str) -> Verdict:
    if not found:
        return Verdict(question, "no", healthy)
    return Verdict(
        question,
        "yes",
        found[0].message,
        [f.message for f in found],
        fix,
    )


def anomalies(findings: list[Finding], alerts: list[dict[str, Any]]) -> Verdict:
    """Anomaly findings of the rules plus what the trainer itself alerted (non-finite steps,
    rollbacks), each named once."""
    lines: list[str] = []
    fixes: list[str] = []
    seen: set[str] = set()
    for finding in findings:
        if finding.rule in ANOMALY_RULES:
            lines.append(f"[{finding.rule}] {finding.message}")
            seen.add(finding.rule)
            if finding.fix and finding.fix not in fixes:
                fixes.append(finding.fix)
    for alert in alerts:
        rule = str(alert.get("rule"))
        if rule in ANOMALY_RULES and rule not in seen:
            lines.append(f"[{rule}] {alert.get('message', '')}")
            fix = str(alert.get("fix") or "")
            if fix and fix not in fixes:
                fixes.append(fix)
    if not lines:
        return Verdict("anomalies?", "no", "no non-finite values, spikes or stalls found")
    return Verdict("anomalies?", "yes", f"{len(lines)} anomaly alert(s)", lines, "; ".join(fixes))
