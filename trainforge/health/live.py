"""The health rules and the resource sampler inside a training run.

:class:`HealthMonitor` is one more sink of the run's :class:`~trainforge.logging.Loggers`: it
sees every record the trainer logs, on the training thread, feeds them to the same rules the
offline report runs, and raises each new finding as an alert (alerts.jsonl, train.log, the
terminal and the optional webhook). Re-evaluating costs O(records), so it runs after each
validation and epoch, and between them only as often as keeps it under ~5% of the run's time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trainforge.config import TrainConfig
from trainforge.config.monitoring import MonitoringConfig
from trainforge.health.checks import RunFacts, evaluate, limit_per_rule
from trainforge.health.rules import Finding
from trainforge.health.sampler import ResourceSampler
from trainforge.health.series import SeriesBuilder
from trainforge.health.webhook import WebhookSender
from trainforge.logging import read_jsonl, schema

# Evaluation may take at most this share of the time between evaluations.
_BUDGET = 0.05


class HealthMonitor:
    name = "health"

    def __init__(
        self,
        cfg: MonitoringConfig,
        facts: RunFacts,
        loggers: Any,
        *,
        gpu: bool = False,
        history: list[dict[str, Any]] | None = None,
        raised: list[dict[str, Any]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.facts = facts
        self.loggers = loggers
        self.builder = SeriesBuilder()
        for record in history or []:
            self.builder.add(record)
        # Findings already alerted (a resumed run keeps its alerts.jsonl): never repeated.
        self.reported: set[tuple[str, int | None, int | None]] = set()
        for alert in raised or []:
            self.reported.add((str(alert.get("rule")), alert.get("step"), alert.get("epoch")))
        self.sampler = ResourceSampler(cfg.resource_interval_s, gpu=gpu)
        self.sampler.start()
        url = cfg.alerts.webhook_url
        self.webhook = WebhookSender(url, cfg.alerts.webhook_timeout_s) if url else None
        self._next_check = 0.0
        self._pending = False

    @classmethod
    def for_run(cls, cfg: TrainConfig, loggers: Any, log_dir: Path, *, gpu: bool) -> HealthMonitor:
        """The monitor of a run whose logs are in ``log_dir`` (kept on resume)."""
        facts = RunFacts(cfg.lr_scheduler.type, cfg.lr_scheduler.warmup_epochs > 0)
        history = _read_if_present(log_dir / "metrics.json")
        raised = _read_if_present(log_dir / "alerts.jsonl")
        return cls(cfg.monitoring, facts, loggers, gpu=gpu, history=history, raised=raised)

    # The sink interface: every record the run logs passes here.
    def log(self, record: dict[str, Any]) -> None:
        self._write_resources()
        self.builder.add(record)
        kind = record.get("type")
        if kind in (schema.VALIDATION, schema.EPOCH) or (
            kind == schema.STEP and not _finite_step(record)
        ):
            self.check()
        elif kind == schema.STEP:
            self._pending = True
            if time.monotonic() >= self._next_check:
                self.check()

    def purge_from(self, step: int) -> None:
        """A rollback (``nan_policy: rollback``) rewound the logs: the records of ``step`` on
        are gone from metrics.json, so the rules forget them too (the alerts they raised
        stay in alerts.jsonl, as the rewind keeps that file)."""
        self.builder.drop_from(step)

    def on_alert(self, record: dict[str, Any]) -> None:
        """Every alert of the run (the trainer's own too) goes to the webhook."""
        if self.webhook is not None:
            self.webhook.send(record)

    def check(self) -> list[Finding]:
        """Evaluate the rules on everything logged so far; alert what is new."""
        started = time.monotonic()
        findings = evaluate(self.builder.build(), self.cfg.rules, self.facts)
        new = [
            f
            for f in limit_per_rule(findings, self.cfg.alerts.max_per_rule)
            if f.key() not in self.reported
        ]
        for finding in new:
            self.reported.add(finding.key())
            self.loggers.alert(
                finding.rule,
                finding.message,
                level=finding.level,
                step=finding.step,
                epoch=finding.epoch,
                evidence=finding.evidence,
                fix=finding.fix,
            )
        spent = time.monotonic() - started
        self._next_check = time.monotonic() + spent / _BUDGET
        self._pending = False
        self._report_webhook_errors()
        return new

    def _write_resources(self) -> None:
        for sample in self.sampler.drain():
            sample["step"] = self.loggers.last_step or 0
            self.loggers.metrics.log(sample)
            self.builder.add(sample)

    def _report_webhook_errors(self) -> None:
        if self.webhook is None:
            return
        for error in self.webhook.errors():
            self.loggers.text.warning(f"alert webhook {self.webhook.url} failed: {error}")

    def close(self) -> None:
        self.sampler.stop()
        self._write_resources()
        if self._pending:
            self.check()
        if self.webhook is not None:
            self.webhook.close()
            self._report_webhook_errors()


def _finite_step(record: dict[str, Any]) -> bool:
    return not record.get("nonfinite")


def _read_if_present(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.is_file() else []
