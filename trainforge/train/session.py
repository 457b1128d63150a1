"""A training run's life: set-up (folder, data, model, loggers), the loop, and the record
it leaves in metadata.json, whatever way the run ends."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from trainforge._clock import iso_time
from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig, dump_config
from trainforge.data import build_data
from trainforge.errors import CheckpointError, ConfigError
from trainforge.logging import build_sinks
from trainforge.models import build_model, load_pretrained, parameter_count
from trainforge.train import checkpointing, distributed
from trainforge.train import resume as resuming
from trainforge.train.batch_finder import describe, resolve_auto_batch_size
from trainforge.train.batch_search import SearchResult
from trainforge.train.checkpointing import role
from trainforge.train.counters import Limits
from trainforge.train.device import resolve_device
from trainforge.train.hooks import Hook
from trainforge.train.memory_format import use_channels_last
from trainforge.train.ports import RunData, RunFolderLike, RunLog
from trainforge.train.position import rescale_batch
from trainforge.train.progress import bar_enabled
from trainforge.train.result import (
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    EXIT_STOPPED_BY_HOOK,
    RunResult,
    StopReason,
    TrainingDiverged,
)
from trainforge.train.run_folder import RunFolder
from trainforge.train.seeding import configure_determinism, seed_everything
from trainforge.train.system import git_commit, package_versions, system_info
from trainforge.train.trainer import Trainer

# --fast_dev_run: enough batches to pass every stage of a run, in seconds.
FAST_DEV_RUN = Limits(train_batches=3, val_batches=2)


@dataclass(frozen=True)
class Resolved:
    """What a run settles at start-up beyond its validated config (``resolved`` in
    metadata.json). The validated config is never changed: ``apply`` returns a copy."""

    num_classes: int | None  # from the data when model.num_classes was left out
    architecture: str  # a model passed as an object: its class path, so load_model finds it
    device: str

    @classmethod
    def of(
        cls, cfg: TrainConfig, data: RunData, model: nn.Module | None, device: torch.device
    ) -> Resolved:
        return cls(
            num_classes=cfg.model.num_classes or data.spec.num_classes,
            architecture=cfg.model.architecture if model is None else class_path(model),
            device=str(device),
        )

    def apply(self, cfg: TrainConfig) -> TrainConfig:
        model = cfg.model.model_copy(
            update={"num_classes": self.num_classes, "architecture": self.architecture}
        )
        return cfg.model_copy(update={"model": model})


class RunSession:
    """Builds a run (folder, data, model, loggers, trainer) and closes it however it ends."""

    def __init__(
        self,
        cfg: TrainConfig,
        out_dir: Path,
        ckpt: dict[str, Any] | None,
        ckpt_path: Path | None,
        *,
        overwrite: bool,
        argv: list[str] | None,
        dist: distributed.DistContext | None = None,
    ) -> None:
        self.dist = dist or distributed.DistContext()
        self.cfg = cfg
        self.ckpt = ckpt
        self.ckpt_path = ckpt_path
        self.started = time.time()
        same_folder = ckpt is not None and same_run(ckpt, ckpt_path, out_dir)
        self.run_dir = out_dir
        self.folder: RunFolderLike
        if self.dist.is_main:
            try:
                self.folder = RunFolder(
                    out_dir,
                    checkpoint_dir=cfg.checkpointing.save_dir,
                    log_dir=cfg.logging.log_dir,
                    overwrite=overwrite and not same_folder,
                    resume=ckpt is not None,
                )
            except BaseException:
                distributed.check_peers(self.dist, failed=True)
                raise
        else:
            self.folder = distributed.FollowerFolder(
                out_dir, cfg.checkpointing.save_dir, cfg.logging.log_dir
            )
        distributed.check_peers(self.dist, failed=False)
        self.loggers: RunLog | None = None
        self.profiler: Any = None  # training.profile: a StepProfiler
        self.batch_search: SearchResult | None = None  # data.batch_size: auto
        self.argv = argv if argv is not None else list(sys.argv)
        self.same_folder = same_folder

    def build(
        self,
        model: nn.Module | None,
        train_data: Dataset[Any] | None,
        val_data: Dataset[Any] | None,
        hooks: Sequence[Hook],
        device_flag: str | None,
        fast_dev_run: bool,
    ) -> Trainer:
        cfg = self.cfg
        if fast_dev_run:  # one short epoch, as the README promises: a config check in seconds
            short = cfg.training.model_copy(update={"epochs": min(cfg.training.epochs, 1)})
            cfg = self.cfg = cfg.model_copy(update={"training": short})
        seed = cfg.reproducibility.seed
        device = resolve_device(device_flag or cfg.training.device)
        notices = configure_determinism(
            cfg.reproducibility.deterministic, cfg.reproducibility.benchmark
        )
        seed_everything(seed)
        if cfg.data.batch_size == "auto":
            if self.dist.enabled:  # each rank would measure, and may choose, its own size
                raise ConfigError(
                    "data.batch_size: auto is not supported with --distributed; set a number "
                    "(a single-process run with auto prints the size it chooses)"
                )
            cfg, self.batch_search = resolve_auto_batch_size(
                cfg, model, train_data, val_data, device, seed
            )
            self.cfg = cfg
            notices.append(describe(self.batch_search))
            seed_everything(seed)  # the trials leave no trace in the run's RNG stream
        data = build_data(
            cfg.data,
            seed=seed,
            device=device,
            train_data=train_data,
            val_data=val_data,
            num_classes=cfg.model.num_classes,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        notices += list(data.notices) + list(self.folder.notices)
        self.resolved = Resolved.of(cfg, data, model, device)
        cfg = self.cfg = self.resolved.apply(cfg)
        _check_monitored_metrics(cfg, data)
        if model is None:
            model = build_model(cfg.model, data.spec)
        parent = load_pretrained(model, cfg.model) if self.ckpt is None else None
        model.to(device)
        if use_channels_last(cfg.training.channels_last, device.type, data.spec.shape):
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        model = distributed.wrap_model(model, self.dist, sync_batchnorm=cfg.training.sync_batchnorm)
        if cfg.training.compile:
            model = torch.compile(model)  # type: ignore[assignment]

        lineage = self._lineage(parent, data.split_hash)
        resume_logs = None
        if self.ckpt is not None:
            resume_logs = {**self.ckpt.get("logs", {}), "step": self.ckpt["trainer"]["global_step"]}
            if not self.same_folder and self.ckpt_path is not None and self.dist.is_main:
                source = Path(self.ckpt.get("run_dir") or self.ckpt_path.parent.parent)
                resuming.copy_history(source, self.run_dir, resume_logs, cfg.logging.log_dir)
        loggers: RunLog
        if not self.dist.is_main:
            loggers = distributed.SilentLoggers()
        else:
            sinks = build_sinks(
                cfg.logging,
                run_dir=self.run_dir,
                log_dir=self.folder.log_dir,
                run_name=self.run_dir.name,
                config_dict=cfg.model_dump(mode="json"),
                resume=resume_logs,
                echo=True,
            )
            if cfg.monitoring.enabled:
                from trainforge.health import HealthMonitor

                sinks.extra.append(
                    HealthMonitor.for_run(
                        cfg, sinks, self.folder.log_dir, gpu=device.type == "cuda"
                    )
                )
            loggers = sinks
        self.loggers = loggers
        self.folder.write_config(dump_config(cfg))
        self.folder.write_requirements()
        self._write_start_metadata(lineage, device, fast_dev_run, notices)
        if self.batch_search is not None:
            self.folder.update_metadata(
                batch_size_search={
                    "batch_size": self.batch_search.batch_size,
                    "method": self.batch_search.method,
                    "trials": self.batch_search.trials,
                }
            )
        trainer = Trainer(
            cfg,
            model,
            data,
            device,
            loggers,
            self.folder.checkpoint_dir,
            lineage=lineage,
            hooks=hooks,
            limits=FAST_DEV_RUN if fast_dev_run else None,
            run_dir=self.run_dir,
            dist=self.dist,
            progress_bar=bar_enabled(cfg.logging.progress_bar, is_main=self.dist.is_main),
            update_metadata=self.folder.update_metadata if self.dist.is_main else None,
        )
        if self.ckpt is not None:
            _restore(trainer, self.ckpt, self.ckpt_path)
            trainer.saver.last_saved = self.ckpt_path  # nan_policy: rollback may return to it
            _warn_if_not_exact(trainer, self.ckpt, loggers)
            checkpointing.remove_stale_temp_files(self.folder.checkpoint_dir)
        if cfg.training.profile and self.dist.is_main:
            from trainforge.train.profiling import attach_profiler

            self.profiler = attach_profiler(
                trainer, self.folder.log_dir / "profile", device.type == "cuda"
            )
        precision_notice = trainer.precision.notice()
        for notice in [*notices, *([precision_notice] if precision_notice else [])]:
            loggers.text.info(notice)
        self._log_start(trainer, device)
        return trainer

    def run(self, trainer: Trainer) -> RunResult:
        status, exit_code, error = "completed", EXIT_OK, None
        try:
            stopped = trainer.run()
        except TrainingDiverged as exc:
            status, exit_code, error, reason = "failed", EXIT_DIVERGED, str(exc), "nonfinite"
            trainer.log.text.error(str(exc))
        except KeyboardInterrupt:
            status, exit_code = "stopped", EXIT_SIGNAL_BASE + 2
            reason = StopReason.SIGINT.value
            self._finish(trainer, status, reason, exit_code, "aborted by a second SIGINT")
            raise
        except BaseException as exc:
            self.dist.hold_if_peer_lost(exc)  # a vanished peer: its watch saves and exits
            self._finish(trainer, "failed", "error", EXIT_FAILED, f"{type(exc).__name__}: {exc}")
            raise
        else:
            reason = stopped.value
            if stopped.signal_name is not None:
                status = "stopped"
                exit_code = EXIT_SIGNAL_BASE + (trainer.signals.signum or 15)
            elif stopped is StopReason.HOOK:
                status, exit_code = "stopped", EXIT_STOPPED_BY_HOOK
        result = self._finish(trainer, status, reason, exit_code, error)
        if isinstance(error, str):
            raise TrainingDiverged(error)
        return result

    def _finish(
        self, trainer: Trainer, status: str, reason: str | None, exit_code: int, error: str | None
    ) -> RunResult:
        if self.profiler is not None:  # a run shorter than the profile window
            self.profiler.finish(trainer.global_step)
        first = self.cfg.checkpointing.monitors[0]
        ended = time.time()
        result = RunResult(
            run_dir=self.run_dir,
            status=status,
            stop_reason=reason,
            epochs_completed=trainer.epoch,
            global_step=trainer.global_step,
            best_metric=first,
            best_value=trainer.best.best.get(first),
            best_metrics=dict(trainer.best.best),
            final_metrics=dict(trainer.metrics),
            checkpoints=_existing_checkpoints(self.folder.checkpoint_dir),
            duration_s=ended - self.started,
            exit_code=exit_code,
        )
        result.notes = self._resume_notes(trainer, result)
        for note in result.notes:
            if self.loggers is not None:
                self.loggers.text.info(note)
        self.folder.update_metadata(
            status=status,
            stop_reason=reason,
            exit_code=exit_code,
            error=error,
            end_time=iso_time(ended),
            duration_s=round(ended - self.started, 3),
            epochs_completed=trainer.epoch,
            global_step=trainer.global_step,
            best_metric={"name": first, "value": result.best_value},
            best_metrics=result.best_metrics,
            final_metrics=result.final_metrics,
            early_stopped=reason == StopReason.EARLY_STOPPING.value,
        )
        trainer.log.log(
            {
                "type": "event",
                "event": "end",
                "status": status,
                "reason": reason,
                "step": trainer.global_step,
                "epoch": trainer.epoch,
            }
        )
        summary = ", ".join(
            f"{k} {v:.4f}" for k, v in result.final_metrics.items() if k.startswith("val_")
        )
        trainer.log.text.info(
            f"run {status} ({reason}) after {trainer.epoch} epoch(s), "
            f"{trainer.global_step} steps, {result.duration_s:.1f} s; {summary}"
        )
        return result

    def _resume_notes(self, trainer: Trainer, result: RunResult) -> list[str]:
        """After a resume: say when nothing was left to train, and where the best model is
        when it was not beaten in this folder (it stays in the resumed run's folder)."""
        if self.ckpt is None or self.ckpt_path is None:
            return []
        notes = []
        done = int(self.ckpt["trainer"]["global_step"])
        if trainer.global_step == done and result.stop_reason == "epochs_done":
            notes.append(
                f"nothing to train: the checkpoint had already completed {trainer.epoch} epoch(s) "
                f"of training.epochs {self.cfg.training.epochs}; raise it "
                f"(--set training.epochs=N) to continue"
            )
        if "best" not in result.checkpoints and result.best_value is not None:
            earlier = _earlier_best(self.ckpt_path.parent, result.best_metric, result.best_value)
            if earlier is not None:
                result.checkpoints["best"] = earlier
                where = f"still {earlier}"
            else:
                where = "not in any checkpoint file"
            notes.append(
                f"best {result.best_metric} {result.best_value:.4f} was not improved after the "
                f"resume; the best model is {where}"
            )
        return notes

    def close(self) -> None:
        if self.loggers is not None:
            self.loggers.close()
        meta = self.folder.metadata
        if meta.get("status") == "running":
            self.folder.update_metadata(
                status="failed",
                end_time=iso_time(time.time()),
                error=meta.get("error") or "the run ended during set-up",
            )
        self.folder.release()

    # ------------------------------------------------------------------ metadata and lineage
    def _lineage(self, parent: dict[str, Any] | None, data_hash: str) -> dict[str, Any]:
        if self.ckpt is not None:
            old = dict(self.ckpt.get("lineage", {}))
            resumed = {
                "path": str(self.ckpt_path),
                "run_id": old.get("run_id"),
                "step": self.ckpt["trainer"]["global_step"],
            }
            if self.same_folder:
                old["resumed_from"] = resumed
                return old
            return {
                "run_id": uuid.uuid4().hex,
                "parent": old.get("parent"),
                "resumed_from": resumed,
                "provenance": self.cfg.provenance,
                "data_hash": data_hash,
            }
        return {
            "run_id": uuid.uuid4().hex,
            "parent": parent,
            "resumed_from": None,
            "provenance": self.cfg.provenance,
            "data_hash": data_hash,
        }

    def _write_start_metadata(
        self, lineage: dict[str, Any], device: torch.device, fast_dev_run: bool, notices: list[str]
    ) -> None:
        self.folder.update_metadata(
            status="running",
            run_id=lineage["run_id"],
            command=self.argv,
            seed=self.cfg.reproducibility.seed,
            git=git_commit(Path.cwd()),
            versions=package_versions(),
            system=system_info(),
            device=str(device),
            num_threads=torch.get_num_threads(),
            world_size=self.dist.world_size,
            backend=self.dist.backend,
            # samples per optimizer step over all ranks
            global_batch=self.cfg.data.batch_size
            * self.dist.world_size
            * self.cfg.training.gradient_accumulation_steps,
            sync_batchnorm=self.cfg.training.sync_batchnorm and self.dist.enabled,
            start_time=iso_time(self.started),
            end_time=None,
            duration_s=None,
            parent=lineage.get("parent"),
            resumed_from=lineage.get("resumed_from"),
            provenance=self.cfg.provenance,
            data_hash=lineage.get("data_hash"),
            fast_dev_run=fast_dev_run,
            notices=notices,
            resolved=asdict(self.resolved),
        )

    def _log_start(self, trainer: Trainer, device: torch.device) -> None:
        spec = trainer.spec
        params = parameter_count(trainer.model)
        event = "resume" if self.ckpt is not None else "start"
        train = trainer.data.train
        n_train = getattr(train, "total_samples", train.num_samples)
        per_rank = f" ({train.num_samples} per rank)" if self.dist.enabled else ""
        trainer.log.metrics.log(
            {
                "type": "event",
                "event": event,
                "step": trainer.global_step,
                "epoch": trainer.epoch,
                "run_dir": str(self.run_dir),
                "device": str(device),
                "parameters": params,
                "train_samples": n_train,
                "val_samples": trainer.data.val.num_samples if trainer.data.val else 0,
            }
        )
        trainer.log.text.info(
            f"{event} {self.run_dir}: {self.cfg.model.architecture} ({params:,} parameters) on "
            f"{device}, {n_train} train{per_rank} / "
            f"{trainer.data.val.num_samples if trainer.data.val else 0} val samples, "
            f"input {list(spec.shape)}, {spec.num_classes or 'regression'} classes"
        )


def class_path(model: nn.Module) -> str:
    """Record a model passed as an object by its import path, so load_model can rebuild it."""
    cls = type(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return f"object:{cls.__qualname__}"
    return f"{cls.__module__}:{cls.__qualname__}"


def same_run(ckpt: dict[str, Any], ckpt_path: Path | None, out_dir: Path) -> bool:
    run_dir = ckpt.get("run_dir") or (str(ckpt_path.parent.parent) if ckpt_path else None)
    return run_dir is not None and Path(run_dir).resolve() == out_dir.resolve()


def _restore(trainer: Trainer, state: dict[str, Any], path: Path | None) -> None:
    """``trainer.load_state_dict``, with a checkpoint that does not fit named in one line (a
    file can be intact and still hold other weights, or a forged training state)."""
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = f"{type(exc).__name__}: {text[:200]}"
        fits = "state_dict" not in text  # torch's "Error(s) in loading state_dict for ..."
        what = (
            "its training state cannot be restored" if fits else "its weights do not fit the model"
        )
        raise CheckpointError(
            f"--resume {path}: {what} ({detail}); resume with the config the checkpoint was "
            "written with, or start a new run with pretrained: <checkpoint>"
        ) from None


def _earlier_best(folder: Path, metric: str, value: float) -> Path | None:
    """The resumed run's best.pth, if it still holds the best value this run reports."""
    candidate = folder / "best.pth"
    if not candidate.is_file():
        return None
    try:
        metrics = load_checkpoint(candidate).get("metrics") or {}
    except CheckpointError:
        return None
    return candidate.resolve() if metrics.get(metric) == value else None


def _existing_checkpoints(folder: Path) -> dict[str, Path]:
    return {role(p.name): p for p in sorted(folder.glob("*.pth"))}


def _check_monitored_metrics(cfg: TrainConfig, data: RunData) -> None:
    available = available_metrics(data.spec.task, data.spec.num_classes or 0)
    wanted = [("checkpointing.monitor", m) for m in cfg.checkpointing.monitors]
    if cfg.early_stopping.enabled:
        wanted.append(("early_stopping.metric", cfg.early_stopping.metric))
    if cfg.lr_scheduler.type == "plateau" and cfg.lr_scheduler.monitor:
        wanted.append(("lr_scheduler.monitor", cfg.lr_scheduler.monitor))
    for key, metric in wanted:
        if metric not in available:
            raise ConfigError(
                f"{key}: '{metric}' is not a metric of this run; choose one of {', '.join(available)}"
            )


def available_metrics(task: str, num_classes: int) -> list[str]:
    if task == "regression":
        base = ["loss", "mse", "mae", "rmse", "r2"]
        train = ["train_loss"]
    else:
        base = ["loss", "accuracy", "f1", "precision", "recall"]
        base += ["top5_accuracy"] if num_classes > 5 else []
        base += ["auroc"] if num_classes == 2 else []
        train = ["train_loss", "train_accuracy"]
    return [f"val_{m}" for m in base] + train


def _warn_if_not_exact(trainer: Trainer, ckpt: dict[str, Any], loggers: RunLog) -> None:
    saved_world = int(ckpt["trainer"].get("world_size", 1))
    world_size = trainer.dist.world_size
    if saved_world != world_size:
        # ranks are dealt each epoch's order round-robin: another world size deals the rest
        # of the epoch differently, and DDP sums gradients in another order
        pos, train = trainer.pos, trainer.data.train
        total = getattr(train, "total_samples", train.num_samples)
        _, consumed = rescale_batch(
            pos.batch_in_epoch, world_size, world_size, trainer.cfg.data.batch, total, 0
        )
        loggers.text.warning(
            f"resuming a {saved_world}-process checkpoint in {world_size} process(es): epoch "
            f"{pos.epoch + 1} continues at sample {consumed} of {total} (step "
            f"{pos.global_step}), but the order of the samples changed, so the run is not "
            "bit-identical to an uninterrupted one; resume with the same --n_gpus for that"
        )
        return
    threads, version = ckpt.get("num_threads"), ckpt.get("torch_version")
    if threads != torch.get_num_threads() or version != torch.__version__:
        loggers.text.warning(
            f"resuming with torch {torch.__version__} and {torch.get_num_threads()} threads; the "
            f"checkpoint was made with torch {version} and {threads} threads, so the resumed run "
            "is not promised to be bit-identical to an uninterrupted one"
        )
