"""``fit``: config in, trained model and a complete run folder out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig, load_config, validate
from trainforge.config.trust import require_trust
from trainforge.train import distributed, peers
from trainforge.train import resume as resuming
from trainforge.train.device import resolve_device
from trainforge.train.hooks import Hook
from trainforge.train.result import (
    RunResult,
)
from trainforge.train.session import RunSession, class_path


def fit(
    config_or_path: str | Path | Mapping[str, Any] | TrainConfig,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    model: nn.Module | None = None,
    train_data: Dataset[Any] | None = None,
    val_data: Dataset[Any] | None = None,
    hooks: Sequence[Hook] = (),
    output: str | Path | None = None,
    seed: int | None = None,
    resume: str | Path | None = None,
    overwrite: bool = False,
    device: str | None = None,
    fast_dev_run: bool = False,
    argv: list[str] | None = None,
    trust_model_code: bool = False,
) -> RunResult:
    """Train a model as the config says and return where everything went.

    ``model``, ``train_data`` and ``val_data`` replace what the config would build. ``resume``
    is a checkpoint, a run folder, or ``"auto"`` (the newest valid checkpoint of ``output``).

    Inside a data-parallel worker (``WORLD_SIZE`` > 1 in the environment, as a launcher sets
    it) the run joins the process group, trains a DistributedDataParallel model on its shard
    of each epoch, and only rank 0 writes the run folder.

    A resume without a config of the user's own takes the whole config from the checkpoint:
    if that names code to import (a user's model class, a data source function) it is
    refused unless ``trust_model_code`` (see ``trainforge.config.trust``).
    """
    dist = distributed.from_env()
    out_dir = Path(output) if output is not None else None
    skipped: list[tuple[Path, str]] = []
    ckpt_path = resuming.resolve_resume(resume, out_dir, skipped) if resume is not None else None
    ckpt: dict[str, Any] | None = None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path)
        cfg, changes = _resume_config(ckpt, config_or_path, overrides, seed, model)
        if config_or_path is None and model is None:
            # Every key came from the file: the user chose none of the code it names.
            require_trust(
                cfg,
                f"--resume {ckpt_path}: its config",
                trust_model_code,
                data=True,
                how="pass --config with the same settings",
            )
        if out_dir is None:
            out_dir = Path(ckpt.get("run_dir") or ckpt_path.parent.parent)
    else:
        cfg = _load(config_or_path, overrides, seed)
        changes = {}
        # A job killed before its first checkpoint left a folder with nothing to resume:
        # "--resume auto" promises a fresh start then, so a job script can always pass it.
        if str(resume) == "auto" and not skipped and out_dir is not None:
            overwrite = overwrite or resuming.unfinished_without_checkpoints(out_dir)
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = Path("runs") / f"run-{stamp}"
    if dist.enabled:
        device = str(_join_process_group(dist, cfg, device))
    try:
        setup = RunSession(cfg, out_dir, ckpt, ckpt_path, overwrite=overwrite, argv=argv, dist=dist)
        try:
            trainer = setup.build(model, train_data, val_data, hooks, device, fast_dev_run)
            if dist.watch is not None and dist.is_main:
                watch = dist.watch
                watch.rescue = lambda why: peers.save_from_mark(
                    trainer, setup.folder, watch.mark, why
                )
            for path, reason in skipped:
                trainer.log.text.warning(resuming.skipped_warning(path, reason))
            for key, (old, new) in changes.items():
                trainer.log.text.info(f"resume: {key} changed from {old!r} to {new!r}")
            return setup.run(trainer)
        finally:
            setup.close()
    finally:
        distributed.teardown(dist)


def _join_process_group(
    dist: distributed.DistContext, cfg: TrainConfig, device_flag: str | None
) -> torch.device:
    t = cfg.training
    requested = resolve_device(device_flag or t.device)
    # Before joining: a rank that refuses the config after the group exists would leave its
    # store and heartbeat threads running into the interpreter's exit.
    distributed.check_sync_batchnorm(dist, t.sync_batchnorm, requested)
    return distributed.init(
        dist, requested, timeout_s=t.distributed_timeout_s, heartbeat_s=t.heartbeat_timeout_s
    )


def _load(
    source: str | Path | Mapping[str, Any] | TrainConfig,
    overrides: Iterable[str] | Mapping[str, Any] | None,
    seed: int | None,
) -> TrainConfig:
    if isinstance(source, TrainConfig):
        return load_config(source.model_dump(mode="json"), overrides, seed=seed)
    return load_config(source, overrides, seed=seed)


def _resume_config(
    ckpt: dict[str, Any],
    source: str | Path | Mapping[str, Any] | TrainConfig | None,
    overrides: Iterable[str] | Mapping[str, Any] | None,
    seed: int | None,
    model: nn.Module | None = None,
) -> tuple[TrainConfig, dict[str, tuple[Any, Any]]]:
    """The checkpoint's config is authoritative; --config/--set may change only safe keys."""
    stored = ckpt["config"]
    if source is None:
        new = load_config(stored, overrides, seed=seed)
    else:
        new = _load(source, overrides, seed)
    new_dict = new.model_dump(mode="json")
    # num_classes is inferred at the first run; a config that leaves it out agrees with it.
    if new_dict["model"].get("num_classes") is None:
        new_dict["model"]["num_classes"] = stored["model"].get("num_classes")
    # data.batch_size: auto was resolved by the first run: the size it chose agrees with it.
    if new_dict["data"].get("batch_size") == "auto":
        new_dict["data"]["batch_size"] = stored["data"].get("batch_size")
    # A model passed as an object was recorded by its class path: the same class agrees.
    if model is not None:
        new_dict["model"]["architecture"] = class_path(model)
    changes = resuming.config_changes(stored, new_dict)
    resuming.check_resume_changes(changes)
    return validate(new_dict, TrainConfig, source=""), changes


__all__ = ["fit"]
