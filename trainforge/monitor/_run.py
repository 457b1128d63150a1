"""A run folder as the monitor sees it: files only (metadata, config, logs, checkpoint names).

The monitor never imports the training code or loads a checkpoint: a run folder (possibly
someone else's, still running or crashed) is data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainforge.errors import LogError
from trainforge.health.rules import Finding
from trainforge.logging import read_jsonl
from trainforge.monitor._logfile import USED_STEP_FIELDS, Prefetch, RunLog, read_log

if TYPE_CHECKING:
    from trainforge.health import RunFacts

FINISHED = ("completed", "failed", "stopped")


@dataclass
class RunFolder:
    path: Path
    log_dir: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    config_text: str = ""

    @property
    def metrics_path(self) -> Path:
        return self.log_dir / "metrics.json"

    @property
    def status(self) -> str:
        return str(self.metadata.get("status") or "unknown")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def open_run(path: str | Path) -> RunFolder:
    """A run folder (or its logs/ or checkpoints/ folder) ; a one-line LogError if it is none."""
    path = Path(path)
    if not path.exists():
        raise LogError(f"no run folder at {path}; pass the --output folder of a training run")
    if not path.is_dir():
        raise LogError(f"{path} is a file; pass a run folder (the --output of a training run)")
    if not (path / "metadata.json").exists() and (path.parent / "metadata.json").exists():
        path = path.parent  # the user named logs/ or checkpoints/
    config_text = ""
    config: dict[str, Any] = {}
    try:
        config_text = (path / "config.yaml").read_text(encoding="utf-8")
        loaded = yaml.safe_load(config_text)
        config = loaded if isinstance(loaded, dict) else {}
    except (OSError, yaml.YAMLError):
        pass
    log_dir_name = (config.get("logging") or {}).get("log_dir") or "logs"
    log_dir = path / str(log_dir_name)
    if not log_dir.is_dir() and (path / "metrics.json").exists():
        log_dir = path
    return RunFolder(path, log_dir, _read_json(path / "metadata.json"), config, config_text)


def log_dir_run(log_dir: Path) -> Path:
    """The run folder of a logs folder (its parent when that holds metadata.json)."""
    return log_dir.parent if (log_dir.parent / "metadata.json").exists() else log_dir


def read_metadata(run_dir: Path) -> dict[str, Any]:
    return _read_json(run_dir / "metadata.json")


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
