"""What the monitor reads from a run folder besides its metadata: the log, alerts, the rules'
findings with the run's own thresholds, and the checkpoint files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainforge.health.rules import Finding
from trainforge.logging import read_jsonl
from trainforge.monitor._background import Prefetch
from trainforge.monitor._folder import (
    FINISHED,
    RunFolder,
    log_dir_run,
    open_run,
    read_metadata,
)
from trainforge.monitor._logfile import USED_STEP_FIELDS, RunLog, read_log

__all__ = [
    "FINISHED",
    "RunFolder",
    "checkpoints",
    "findings_for",
    "load_run_log",
    "log_dir_run",
    "open_run",
    "read_alerts",
    "read_metadata",
]

if TYPE_CHECKING:
    from trainforge.health import RunFacts


def read_alerts(log_dir: Path) -> list[dict[str, Any]]:
    path = log_dir / "alerts.jsonl"
    return read_jsonl(path) if path.is_file() else []


def run_facts(config: dict[str, Any]) -> RunFacts:
    from trainforge.health import RunFacts

    sched = config.get("lr_scheduler") or {}
    warmup = sched.get("warmup_epochs") or 0
    return RunFacts(str(sched.get("type") or "none"), bool(warmup) and float(warmup) > 0)


def rules_config(config: dict[str, Any]) -> Any:
    """The run's own ``monitoring`` thresholds (defaults when absent or unreadable)."""
    from pydantic import ValidationError

    from trainforge.config.monitoring import MonitoringConfig

    try:
        return MonitoringConfig.model_validate(config.get("monitoring") or {})
    except ValidationError:
        return MonitoringConfig()


def findings_for(log: RunLog, config: dict[str, Any]) -> list[Finding]:
    """The health rules over a log, with the run's thresholds: what the live monitor raised."""
    from trainforge.health import evaluate, limit_per_rule

    monitoring = rules_config(config)
    found = evaluate(log.series, monitoring.rules, run_facts(config))
    return limit_per_rule(found, monitoring.alerts.max_per_rule)


def checkpoints(run: RunFolder, log: RunLog) -> list[dict[str, Any]]:
    """Checkpoint files with the step, epoch and time of their last save event."""
    saves: dict[str, dict[str, Any]] = {}
    for event in log.events:
        if event.get("event") == "checkpoint" and event.get("path"):
            saves[Path(str(event["path"])).name] = event
    folder = run.path / str(
        (run.config.get("checkpointing") or {}).get("save_dir") or "checkpoints"
    )
    rows = []
    for file in sorted(folder.glob("*.pth")) if folder.is_dir() else []:
        event = saves.get(file.name, {})
        rows.append(
            {
                "name": file.name,
                "size_mb": file.stat().st_size / 2**20,
                "step": event.get("step"),
                "epoch": event.get("epoch"),
                "time": event.get("time"),
            }
        )
    return rows


def load_run_log(run: RunFolder, prefetched: Prefetch | None = None) -> RunLog:
    return read_log(run.metrics_path, USED_STEP_FIELDS, prefetched)
