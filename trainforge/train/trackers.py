"""Early stopping and best-checkpoint bookkeeping: small states around pure decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainforge.config import Mode, is_better


def early_stopping_update(
    value: float, best: float | None, wait: int, *, mode: Mode, patience: int, min_delta: float
) -> tuple[float | None, int, bool]:
    """One validation: (new best, validations without improvement, stop now?)."""
    if is_better(value, best, mode, min_delta):
        return value, 0, False
    wait += 1
    return best, wait, wait >= patience


def top_k_split(
    entries: list[tuple[str, float]], k: int, mode: Mode
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Which (name, value) entries stay among the k best, and which go (ties: older first)."""
    ranked = sorted(entries, key=lambda e: e[1], reverse=(mode == "max"))
    return ranked[:k], ranked[k:]


@dataclass
class EarlyStopping:
    metric: str
    mode: Mode
    patience: int
    min_delta: float
    best: float | None = None
    wait: int = 0
    stopped: bool = False

    def update(self, metrics: dict[str, float]) -> bool:
        """Returns True when training should stop."""
        if self.metric not in metrics:
            return False
        self.best, self.wait, self.stopped = early_stopping_update(
            metrics[self.metric],
            self.best,
            self.wait,
            mode=self.mode,
            patience=self.patience,
            min_delta=self.min_delta,
        )
        return self.stopped

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "stopped": self.stopped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait, self.stopped = (
            state["best"],
            int(state["wait"]),
            bool(state["stopped"]),
        )


@dataclass
class BestTracker:
    """Best value seen for each monitored metric (the first one owns best.pth)."""

    modes: dict[str, Mode]
    best: dict[str, float] = field(default_factory=dict)
    best_step: dict[str, int] = field(default_factory=dict)

    def improved(self, metrics: dict[str, float], step: int) -> list[str]:
        """Update with a validation; the metrics whose best improved."""
        out = []
        for name, mode in self.modes.items():
            if name in metrics and is_better(metrics[name], self.best.get(name), mode):
                self.best[name] = metrics[name]
                self.best_step[name] = step
                out.append(name)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best), "best_step": dict(self.best_step)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = {k: float(v) for k, v in state["best"].items()}
        self.best_step = {k: int(v) for k, v in state["best_step"].items()}


@dataclass
class TopK:
    """The k best validation checkpoints by the first monitored metric."""

    k: int
    mode: Mode
    entries: list[tuple[str, float]] = field(default_factory=list)

    def offer(self, name: str, value: float) -> tuple[bool, list[str]]:
        """Whether ``name`` should be written, and which files to delete after it is."""
        if self.k <= 0:
            return False, []
        keep, drop = top_k_split([*self.entries, (name, value)], self.k, self.mode)
        self.entries = keep
        return (name in {n for n, _ in keep}), [n for n, _ in drop if n != name]

    def state_dict(self) -> dict[str, Any]:
        return {"entries": [[n, v] for n, v in self.entries]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.entries = [(str(n), float(v)) for n, v in state["entries"]]


@dataclass
class Trackers:
    """The run's three trackers, saved and restored together (``"trackers"`` in a checkpoint)."""

    early_stopping: EarlyStopping
    best: BestTracker
    top_k: TopK

    def state_dict(self) -> dict[str, Any]:
        return {
            "early_stopping": self.early_stopping.state_dict(),
            "best": self.best.state_dict(),
            "top_k": self.top_k.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.early_stopping.load_state_dict(state["early_stopping"])
        self.best.load_state_dict(state["best"])
        self.top_k.load_state_dict(state["top_k"])
