"""What goes into a training checkpoint, what the files are called, and how state returns."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from trainforge.checkpoint.format import save_checkpoint
from trainforge.config import Mode, TrainConfig, metric_direction
from trainforge.train.counters import EpochTotals
from trainforge.train.distributed import unwrap
from trainforge.train.seeding import capture_rng_state, restore_rng_state

if TYPE_CHECKING:
    from trainforge.train.trainer import Trainer


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
    """The key a file is known by in RunResult.checkpoints."""
    stem = name[: -len(".pth")]
    if stem == "best":
        return "best"
    if stem == "last":
        return "last"
    return stem


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


def build_state(t: Trainer) -> dict[str, Any]:
    model = unwrap(t.model)  # torch.compile and DDP wrappers: the same keys as a plain run
    return {
        "model": model.state_dict(),
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.schedule.state_dict(),
        "scaler": t.precision.state_dict(),
        "trainer": {
            "epoch": t.epoch,
            "batch_in_epoch": t.batch_in_epoch,
            "global_step": t.global_step,
            "micro_step": 0,
            "totals": t.totals.as_dict(),
            "consecutive_skips": t.consecutive_skips,
            "stop_reason": t.stop_reason,
            # batch_in_epoch counts this world size's (sharded) batches
            "world_size": t.dist.world_size,
        },
        "rng": capture_rng_state(),
        "trackers": {
            "early_stopping": t.early_stopping.state_dict(),
            "best": t.best.state_dict(),
            "top_k": t.top_k.state_dict(),
        },
        "metrics": dict(t.metrics),
        # The resolved loss weights (class_weights: auto depends on the training split's class
        # counts), so evaluation reports the same loss as validation.
        "loss": {"class_weights": _class_weights_of(t.loss_fn)},
        "config": t.cfg.model_dump(mode="json"),
        "input_spec": t.spec.to_dict(),
        "lineage": dict(t.lineage),
        "logs": t.log.positions(),
        "run_dir": str(t.run_dir.resolve()) if t.run_dir is not None else None,
        "created": time.time(),
        "torch_version": str(torch.__version__),
        "num_threads": torch.get_num_threads(),
    }


def restore_state(t: Trainer, state: dict[str, Any]) -> None:
    """Restore everything; the RNG last, so nothing after it draws random numbers."""
    unwrap(t.model).load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.schedule.load_state_dict(state["scheduler"])
    t.precision.load_state_dict(state["scaler"])
    tr = state["trainer"]
    t.epoch = int(tr["epoch"])
    t.batch_in_epoch = int(tr["batch_in_epoch"])
    t.global_step = int(tr["global_step"])
    t.totals = EpochTotals(**tr["totals"])
    t.consecutive_skips = int(tr.get("consecutive_skips", 0))
    trackers = state["trackers"]
    t.early_stopping.load_state_dict(trackers["early_stopping"])
    t.best.load_state_dict(trackers["best"])
    t.top_k.load_state_dict(trackers["top_k"])
    t.metrics = {k: float(v) for k, v in state.get("metrics", {}).items()}
    if t.batch_in_epoch >= t.n_batches:  # saved after the last step but before the epoch closed
        t.batch_in_epoch = t.n_batches
    restore_rng_state(state["rng"])


def _class_weights_of(loss_fn: Any) -> list[float] | None:
    weight = getattr(loss_fn, "weight", None)
    return [float(w) for w in weight.tolist()] if isinstance(weight, torch.Tensor) else None
