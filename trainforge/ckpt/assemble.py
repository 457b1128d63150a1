"""``--save``: a full trainforge checkpoint from separate model / optimizer state-dict files.

The result has the layout the trainer writes, so ``trainforge train --resume`` and
``trainforge.load_model`` accept it. The model weights are checked against the model the
config builds before anything is written: a checkpoint that cannot be loaded later is worse
than an error now.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.checkpoint import (
    WRAPPER_PREFIXES,
    find_model_weights,
    load_state_dict_file,
    save_checkpoint,
)
from trainforge.config import load_config
from trainforge.errors import CheckpointError, DataError, UsageError
from trainforge.models import build_model
from trainforge.train.optim import build_optimizer
from trainforge.train.seeding import capture_rng_state
from trainforge.train.trackers import BestTracker, EarlyStopping, TopK

_SHOWN = 5


@dataclass
class KeyReport:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: file [a, b] vs model [c, d]"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        parts = []
        for label, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape mismatch", self.mismatched),
        ):
            if keys:
                more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
                parts.append(f"{label} {len(keys)}: {', '.join(keys[:_SHOWN])}{more}")
        return "; ".join(parts)


def compare_state(expected: Mapping[str, torch.Tensor], found: Mapping[str, Any]) -> KeyReport:
    """Pure: how a state dict differs from the one the model expects."""
    report = KeyReport()
    for key, tensor in expected.items():
        if key not in found:
            report.missing.append(key)
            continue
        other = found[key]
        shape = list(other.shape) if isinstance(other, torch.Tensor) else type(other).__name__
        if not isinstance(other, torch.Tensor) or other.shape != tensor.shape:
            report.mismatched.append(f"{key}: file {shape} vs model {list(tensor.shape)}")
    report.unexpected = [k for k in found if k not in expected]
    return report


def model_state_of(raw: Mapping[str, Any], source: Path) -> dict[str, torch.Tensor]:
    """The model weights in a loaded file (see ``find_model_weights``), wrapper prefixes
    such as DDP's ``module.`` dropped when every key has them."""
    state = find_model_weights(raw)
    if not state:
        raise CheckpointError(
            f"--model {source} holds no model weights (a dict of tensors); save it with "
            "torch.save(model.state_dict(), path)"
        )
    for prefix in WRAPPER_PREFIXES:
        if all(key.startswith(prefix) for key in state):
            state = {key.removeprefix(prefix): value for key, value in state.items()}
    return state


def output_path(output: str | Path) -> Path:
    """--output DIR -> DIR/checkpoint.pth (created); --output FILE.pth -> that file."""
    target = Path(output)
    if target.suffix == ".pth":
        if not target.parent.is_dir():
            raise UsageError(f"--output {target}: the folder {target.parent} does not exist")
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output {target}: cannot create the folder ({exc.strerror})") from None
    return target / "checkpoint.pth"


def assemble(
    model: str | Path,
    config: str | Path,
    output: str | Path,
    *,
    optimizer: str | Path | None = None,
    epoch: int = 0,
    step: int = 0,
) -> tuple[Path, dict[str, Any]]:
    """Write the checkpoint; returns its path and a summary for the user."""
    cfg = load_config(config)
    model_file = Path(model)
    weights = model_state_of(load_state_dict_file(model_file), model_file)
    data = _build_data(cfg, config)
    if cfg.model.num_classes is None and data.spec.num_classes is not None:
        cfg.model.num_classes = data.spec.num_classes
    network = build_model(cfg.model.model_copy(update={"pretrained": False}), data.spec)
    report = compare_state(network.state_dict(), weights)
    if not report.ok:
        raise CheckpointError(
            f"--model {model_file} does not fit the model {config} builds "
            f"({cfg.model.architecture}): {report.describe()}; check --config matches the weights"
        )
    network.load_state_dict(weights)
    optim_state = _optimizer_state(network, cfg, optimizer)
    state = _full_state(cfg, data, network, optim_state, epoch, step, model_file, optimizer)
    target = save_checkpoint(state, output_path(output))
    summary = {
        "path": str(target),
        "architecture": cfg.model.architecture,
        "parameters": sum(p.numel() for p in network.parameters()),
        "optimizer": str(optimizer) if optimizer else None,
        "epoch": epoch,
        "global_step": step,
    }
    return target, summary


def _build_data(cfg: Any, config: str | Path) -> Any:
    # Here, not at the top: trainforge.data imports scikit-learn and pandas (~1.5 s), which
    # the other checkpoint commands (list, best, prune, register) never need.
    from trainforge.data import build_data

    try:
        cfg.require_data(str(config))
        return build_data(
            cfg.data,
            seed=cfg.reproducibility.seed,
            device=torch.device("cpu"),
            num_classes=cfg.model.num_classes,
        )
    except (DataError, FileNotFoundError) as exc:
        raise DataError(
            f"--save needs the data of {config} to rebuild the model's input spec "
            f"(shapes, classes, preprocessing statistics), but it is unavailable: {exc}"
        ) from None


def _optimizer_state(network: nn.Module, cfg: Any, optimizer: str | Path | None) -> dict[str, Any]:
    """The file's optimizer state, proven to load into the optimizer the config builds."""
    built = build_optimizer(network, cfg.training)
    if optimizer is None:
        return built.state_dict()
    source = Path(optimizer)
    state = load_state_dict_file(source)
    if "param_groups" not in state or "state" not in state:
        raise CheckpointError(
            f"--optimizer {source} is not an optimizer state dict (no state / param_groups); "
            "save it with torch.save(optimizer.state_dict(), path)"
        )
    wanted = set(built.param_groups[0]) - {"params"}
    for group in state["param_groups"]:
        absent = sorted(wanted - set(group))
        if absent:
            raise CheckpointError(
                f"--optimizer {source} was saved from another optimizer than "
                f"training.optimizer '{cfg.training.optimizer}' (its groups lack "
                f"{', '.join(absent)}); set training.optimizer to match or drop --optimizer"
            )
    try:
        built.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"--optimizer {source} does not fit the model's parameters ({exc}); it must come "
            "from the same model as --model"
        ) from None
    return built.state_dict()


def _full_state(
    cfg: Any,
    data: Any,
    network: nn.Module,
    optimizer: dict[str, Any],
    epoch: int,
    step: int,
    model_file: Path,
    optimizer_file: str | Path | None,
) -> dict[str, Any]:
    es, ck = cfg.early_stopping, cfg.checkpointing
    monitors = ck.monitors
    return {
        "model": network.state_dict(),
        "optimizer": optimizer,
        "scheduler": {"factor": 1.0, "plateau_best": None, "plateau_wait": 0},
        "scaler": {},
        "trainer": {
            "epoch": epoch,
            "batch_in_epoch": 0,
            "global_step": step,
            "micro_step": 0,
            "totals": {"loss_sum": 0.0, "correct": 0.0, "samples": 0, "seconds": 0.0},
            "consecutive_skips": 0,
            "stop_reason": None,
        },
        "rng": capture_rng_state(),
        "trackers": {
            "early_stopping": EarlyStopping(
                es.metric, es.mode or "min", es.patience, es.min_delta
            ).state_dict(),
            "best": BestTracker({m: ck.mode or "min" for m in monitors}).state_dict(),
            "top_k": TopK(ck.keep_top_k, ck.mode or "min").state_dict(),
        },
        "metrics": {},
        "config": cfg.model_dump(mode="json"),
        "input_spec": data.spec.to_dict(),
        "lineage": {
            "run_id": uuid.uuid4().hex,
            "parent": None,
            "resumed_from": None,
            "provenance": cfg.provenance,
            "data_hash": data.split_hash,
            "assembled_from": {
                "model": str(model_file.resolve()),
                "optimizer": str(Path(optimizer_file).resolve()) if optimizer_file else None,
            },
        },
        "logs": {},
        "run_dir": None,
        "created": time.time(),
        "torch_version": str(torch.__version__),
        "num_threads": torch.get_num_threads(),
    }


__all__ = ["KeyReport", "assemble", "compare_state", "model_state_of", "output_path"]
