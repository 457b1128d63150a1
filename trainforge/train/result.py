"""What ``fit`` returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from trainforge.errors import TrainforgeError

# The documented process exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_STOPPED_BY_HOOK = 4
EXIT_PEER_LOST = 5  # a distributed peer vanished; last.pth saved when it could be
EXIT_SIGNAL_BASE = 128  # + signal number: 130 SIGINT, 143 SIGTERM, 138 SIGUSR1


class StopReason(enum.Enum):
    """Why the loop stopped. The value is what metadata.json, the logs and
    ``RunResult.stop_reason`` record; the order is the strength data-parallel ranks agree on
    (the strongest any rank holds wins, so a signal seen by one rank stops them all)."""

    EPOCHS_DONE = "epochs_done"
    MAX_STEPS = "max_steps"
    EARLY_STOPPING = "early_stopping"
    HOOK = "hook"
    SIGUSR1 = "signal:SIGUSR1"
    SIGINT = "signal:SIGINT"
    SIGTERM = "signal:SIGTERM"

    @classmethod
    def for_signal(cls, name: str) -> StopReason:
        """``"SIGTERM"`` -> ``StopReason.SIGTERM``."""
        return cls(f"signal:{name}")

    @property
    def signal_name(self) -> str | None:
        """``"SIGTERM"`` for ``StopReason.SIGTERM``; None for the reasons that are no signal."""
        prefix, _, name = self.value.partition(":")
        return name if prefix == "signal" else None


@dataclass
class RunResult:
    run_dir: Path
    status: str  # completed | stopped | failed
    # a StopReason value (epochs_done, max_steps, early_stopping, hook, signal:SIGTERM, ...),
    # or "nonfinite" / "error" for a run that failed
    stop_reason: str | None
    epochs_completed: int
    global_step: int
    best_metric: str
    best_value: float | None
    best_metrics: dict[str, float] = field(default_factory=dict)
    final_metrics: dict[str, float] = field(default_factory=dict)
    checkpoints: dict[str, Path] = field(default_factory=dict)
    duration_s: float = 0.0
    exit_code: int = EXIT_OK
    notes: list[str] = field(default_factory=list)  # what the user should know about the run

    @property
    def best_checkpoint(self) -> Path | None:
        return self.checkpoints.get("best")

    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpoints.get("last")


class TrainingDiverged(TrainforgeError):
    """Non-finite loss or gradients with ``nan_policy: stop`` (or too many skips)."""

    exit_code = EXIT_DIVERGED
