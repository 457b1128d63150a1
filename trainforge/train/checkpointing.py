"""What goes into a training checkpoint, what the files are called, and how state returns."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

from trainforge.checkpoint.format import save_checkpoint
from trainforge.config import Mode, TrainConfig, metric_direction


def mode_of(cfg: TrainConfig, metric: str) -> Mode:
    if metric == cfg.checkpointing.monitors[0] and cfg.checkpointing.mode is not None:
        return cfg.checkpointing.mode
    return metric_direction(metric) or "min"


def best_name(metric: str, *, first: bool) -> str:
    """best.pth for the first monitored metric, best_<metric>.pth for the others."""
    return "best.pth" if first else f"best_{metric}.pth"


def top_k_name(epoch: int, step: int, metric: str, value: float, *, mid_epoch: bool) -> str:
    step_part = f"-step_{step:06d}" if mid_epoch else ""
    return f"epoch_{epoch:03d}{step_part}-{metric}={value:.4f}.pth"


def role(name: str) -> str:
    """The key a file is known by in RunResult.checkpoints: its name without ``.pth``."""
    return name.removesuffix(".pth")


def write(state: dict[str, Any], path: Path) -> Path:
    return save_checkpoint(state, path)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete temporary files that a killed save left (``.<name>.tmp-<pid>``).

    Only those of processes that no longer run: another live writer's file is its business.
    """
    removed = []
    for path in folder.glob(".*.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class Stateful(Protocol):
    """A part of the training state: a model, an optimizer, the schedule, the position..."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any, /) -> Any: ...


def parts_state(parts: Mapping[str, Stateful]) -> dict[str, Any]:
    """The checkpoint entries of the parts: ``{name: part.state_dict()}``."""
    return {name: part.state_dict() for name, part in parts.items()}


def load_parts(parts: Mapping[str, Stateful], state: Mapping[str, Any]) -> None:
    """Restore every part from its entry, in the order of ``parts`` (put the RNG last)."""
    for name, part in parts.items():
        part.load_state_dict(state[name])


def run_record(
    cfg: TrainConfig,
    spec: Any,
    loss_fn: Any,
    lineage: dict[str, Any],
    logs: dict[str, Any],
    run_dir: Path | None,
) -> dict[str, Any]:
    """What a checkpoint says about its run besides the training state: the config, the input
    spec, lineage, log offsets, where and with what it was written. Read, never restored."""
    return {
        # The resolved loss weights (class_weights: auto depends on the training split's class
        # counts), so evaluation reports the same loss as validation.
        "loss": {"class_weights": _class_weights_of(loss_fn)},
        "config": cfg.model_dump(mode="json"),
        "input_spec": spec.to_dict(),
        "lineage": dict(lineage),
        "logs": logs,
        "run_dir": str(run_dir.resolve()) if run_dir is not None else None,
        "created": time.time(),
        "torch_version": str(torch.__version__),
        "num_threads": torch.get_num_threads(),
    }


def _class_weights_of(loss_fn: Any) -> list[float] | None:
    weight = getattr(loss_fn, "weight", None)
    return [float(w) for w in weight.tolist()] if isinstance(weight, torch.Tensor) else None
