"""A run folder as the monitor sees it, read without numpy: metadata, config, where its logs are.

The monitor never imports the training code or loads a checkpoint: a run folder (possibly
someone else's, still running or crashed) is data. This module is light on purpose, so that
a command knows which log to read (and starts reading it) before the heavy imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainforge.errors import LogError

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
