"""What ``fit`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainforge.errors import TrainforgeError

# The documented process exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_STOPPED_BY_HOOK = 4
EXIT_SIGNAL_BASE = 128  # + signal number: 130 SIGINT, 143 SIGTERM, 138 SIGUSR1


@dataclass
class RunResult:
    run_dir: Path
    status: str  # completed | stopped | failed
    stop_reason: (
        str | None
    )  # epochs_done | max_steps | early_stopping | hook | signal:SIGTERM | nonfinite
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
