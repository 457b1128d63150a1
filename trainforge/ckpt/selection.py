"""Decisions over a folder of checkpoints: which is best, which carry tags, which to prune.

Pure functions of plain records (name, step, metrics), so every rule is tested with lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trainforge.config import Mode, metric_direction
from trainforge.errors import UsageError
from trainforge.train.run_files import is_checkpoint_name

# Metrics that describe the run's settings rather than the model's quality.
_NOT_QUALITY = frozenset({"lr"})


@dataclass(frozen=True)
class Candidate:
    """What the decisions need to know about one readable checkpoint."""

    name: str
    step: int
    metrics: Mapping[str, float]
    created: float = 0.0


@dataclass
class PrunePlan:
    keep: dict[str, list[str]] = field(default_factory=dict)  # name -> why it stays
    delete: list[str] = field(default_factory=list)


def is_protected(name: str) -> bool:
    """best.pth, best_<metric>.pth and last.pth are never pruned."""
    return name == "last.pth" or (name.startswith("best") and name.endswith(".pth"))


def resolve_mode(metric: str, mode: str | None) -> Mode:
    """``mode`` when given, else the metric registry's direction; unknown metrics need one."""
    if mode is not None:
        if mode not in ("min", "max"):
            raise UsageError(f"--mode must be 'min' or 'max', got '{mode}'")
        return "min" if mode == "min" else "max"
    direction = metric_direction(metric)
    if direction is None:
        raise UsageError(
            f"trainforge does not know whether '{metric}' is better high or low; "
            "pass --mode max or --mode min"
        )
    return direction


def _usable(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name_rank(name: str) -> int:
    # On a tie, point at the file users know by name: best.pth before its copies.
    if name == "best.pth":
        return 0
    if name.startswith("best_"):
        return 1
    if name.startswith("epoch_"):
        return 2
    if name == "last.pth":
        return 4
    return 3


def rank_by_metric(candidates: Iterable[Candidate], metric: str, mode: Mode) -> list[Candidate]:
    """Candidates that recorded ``metric`` (finite), best first.

    Ties go to the earliest step (the first to reach a value, as the trainer's best.pth),
    then to best*.pth over epoch files over last.pth.
    """
    sign = -1.0 if mode == "max" else 1.0
    having = [c for c in candidates if _usable(c.metrics.get(metric))]
    return sorted(
        having, key=lambda c: (sign * float(c.metrics[metric]), c.step, _name_rank(c.name), c.name)
    )


def available_metrics(candidates: Iterable[Candidate]) -> list[str]:
    names = {m for c in candidates for m, v in c.metrics.items() if _usable(v)}
    return sorted(names)


def select_best(candidates: Sequence[Candidate], metric: str, mode: str | None) -> Candidate:
    """The best checkpoint by ``metric``; a metric nobody recorded is a UsageError."""
    known = available_metrics(candidates)
    if metric not in known:
        listed = ", ".join(known) if known else "none (no readable checkpoint has metrics)"
        raise UsageError(
            f"no checkpoint recorded the metric '{metric}'; recorded metrics: {listed}"
        )
    return rank_by_metric(candidates, metric, resolve_mode(metric, mode))[0]


def best_tags(candidates: Sequence[Candidate]) -> dict[str, list[str]]:
    """name -> held-out metrics it is best at (ties: every file with the best value).

    Training-set figures (train_*) and the learning rate say nothing about which model to
    keep, so they get no tag.
    """
    tags: dict[str, list[str]] = {c.name: [] for c in candidates}
    for metric in available_metrics(candidates):
        direction = metric_direction(metric)
        if direction is None or metric in _NOT_QUALITY or metric.startswith("train_"):
            continue
        ranked = rank_by_metric(candidates, metric, direction)
        top = float(ranked[0].metrics[metric])
        for c in ranked:
            if float(c.metrics[metric]) == top:
                tags[c.name].append(metric)
    return tags


def last_name(candidates: Sequence[Candidate]) -> str | None:
    """last.pth when present, else the checkpoint with the highest step (newest on ties)."""
    if any(c.name == "last.pth" for c in candidates):
        return "last.pth"
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.step, c.created, c.name)).name


def plan_prune(
    candidates: Sequence[Candidate],
    *,
    metric: str | None,
    mode: str | None,
    keep_best: int,
    keep_last: int,
    untouchable: Iterable[str] = (),
) -> PrunePlan:
    """Keep best*.pth, last.pth, the ``keep_best`` best other files by ``metric`` and the
    ``keep_last`` newest other files; delete the rest. ``untouchable`` (e.g. damaged files,
    which cannot be judged) is kept too, and so is any file whose name the trainer never
    gives (a copy the user made and named): prune deletes only what trainforge wrote."""
    if keep_best < 0 or keep_last < 0:
        raise UsageError("--keep_best and --keep_last must be 0 or more")
    if keep_best > 0 and metric is None:
        raise UsageError("--keep_best needs --metric NAME (the metric that ranks checkpoints)")
    plan = PrunePlan()
    for name in untouchable:
        plan.keep.setdefault(name, []).append("unreadable, left for you to inspect")
    prunable = []
    for c in candidates:
        if is_protected(c.name):
            plan.keep.setdefault(c.name, []).append(f"protected ({c.name})")
        elif not is_checkpoint_name(c.name):
            plan.keep.setdefault(c.name, []).append("not a name trainforge writes: yours")
        else:
            prunable.append(c)
    if keep_best > 0 and metric is not None:
        ranked = rank_by_metric(prunable, metric, resolve_mode(metric, mode))
        for i, c in enumerate(ranked[:keep_best], start=1):
            plan.keep.setdefault(c.name, []).append(f"best #{i} by {metric}")
    newest = sorted(prunable, key=lambda c: (c.step, c.created, c.name), reverse=True)
    for i, c in enumerate(newest[:keep_last], start=1):
        plan.keep.setdefault(c.name, []).append(f"newest #{i}")
    plan.delete = sorted(c.name for c in prunable if c.name not in plan.keep)
    return plan


__all__ = [
    "Candidate",
    "PrunePlan",
    "available_metrics",
    "best_tags",
    "is_protected",
    "last_name",
    "plan_prune",
    "rank_by_metric",
    "resolve_mode",
    "select_best",
]
