"""The training loop: epochs of optimizer steps, validations and checkpoints, top to bottom.

The trainer is made of parts that each save and restore their own state (model, optimizer,
schedule, scaler, loop position, trackers, metrics, RNG): a checkpoint is the dict of their
``state_dict()``s plus a record of the run. Saves happen only at optimizer-step boundaries,
so the gradient-accumulation position in a checkpoint is always 0.

The concerns around the loop live in their own modules: the forward and backward passes of an
optimizer step's batches (``accumulation``), ``training.oom_policy`` (``oom_policy``),
``training.nan_policy`` (``divergence``), which checkpoint files are due and writing them
(``saving``), the gradient norm and clipping (``grad_norm``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.config import TrainConfig
from trainforge.models import parameter_count
from trainforge.train import checkpointing
from trainforge.train.accumulation import AccumulationWindow
from trainforge.train.counters import LatestMetrics, Limits, Rollback, Window
from trainforge.train.device import Precision
from trainforge.train.distributed import DistContext, unwrap
from trainforge.train.divergence import NanPolicy
from trainforge.train.grad_norm import clip_to, grad_norm, needs_clipping
from trainforge.train.hooks import Hook, RunState
from trainforge.train.losses import build_loss
from trainforge.train.memory_format import use_channels_last
from trainforge.train.nonfinite import step_verdict
from trainforge.train.oom_policy import OomPolicy
from trainforge.train.optim import build_optimizer, set_lr
from trainforge.train.ports import RunData, RunLog
from trainforge.train.position import LoopPosition, rescale_batch
from trainforge.train.profiling import timed_batches
from trainforge.train.progress import EpochProgress
from trainforge.train.result import StopReason
from trainforge.train.saving import CheckpointSaver, Saves, earned_files, epoch_end_files
from trainforge.train.schedule import LRSchedule
from trainforge.train.seeding import RNGState
from trainforge.train.signals import StopSignals
from trainforge.train.trackers import BestTracker, EarlyStopping, TopK, Trackers
from trainforge.train.validation import run_validation


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        data: RunData,
        device: torch.device,
        loggers: RunLog,
        checkpoint_dir: Path,
        *,
        lineage: dict[str, Any],
        hooks: Sequence[Hook] = (),
        limits: Limits | None = None,
        run_dir: Path | None = None,
        dist: DistContext | None = None,
        progress_bar: bool = False,
        update_metadata: Callable[..., Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.data = data
        self.device = device
        self.log = loggers
        self.lineage = lineage
        self.hooks = list(hooks)
        self.mark_data_waits = False
        self.limits = limits or Limits()
        self.run_dir = run_dir
        self.dist = dist or DistContext()
        self.progress_bar = progress_bar
        self.spec = data.spec
        self.classification = self.spec.task == "classification"

        t = cfg.training
        self.accumulation = t.gradient_accumulation_steps
        self.n_batches = len(data.train)
        if self.limits.train_batches is not None:
            self.n_batches = min(self.n_batches, self.limits.train_batches)
        self.steps_per_epoch = math.ceil(self.n_batches / self.accumulation)
        self.optimizer = build_optimizer(model, t)
        self.schedule = LRSchedule(
            cfg.lr_scheduler, t.learning_rate, self.steps_per_epoch, self.steps_per_epoch * t.epochs
        )
        self.precision = Precision(t.mixed_precision, device)
        self.loss_fn = build_loss(
            self.spec.task, t, data.class_counts, self.spec.num_classes, device
        )
        es = cfg.early_stopping
        ck = cfg.checkpointing
        self.trackers = Trackers(
            EarlyStopping(es.metric, es.mode or "min", es.patience, es.min_delta),
            BestTracker({m: checkpointing.mode_of(cfg, m) for m in ck.monitors}),
            TopK(ck.keep_top_k, ck.mode or "min"),
        )
        self.pos = LoopPosition(world_size=self.dist.world_size)
        self.metrics = LatestMetrics()
        self.rng = RNGState()
        self.signals = StopSignals()
        self.memory_format = (
            torch.channels_last
            if use_channels_last(t.channels_last, device.type, self.spec.shape)
            else torch.preserve_format
        )
        self.oom = OomPolicy(
            t.oom_policy, cfg.data.batch, self.accumulation, device, loggers, self.dist,
            update_metadata,
        )  # fmt: skip
        self.nan_policy = NanPolicy(t, loggers, self.dist, device)
        self.accumulated = AccumulationWindow(
            model, self.loss_fn, self.optimizer, self.precision, device, data.train, cfg.data,
            accumulation=self.accumulation, memory_format=self.memory_format,
            classification=self.classification, dist=self.dist, oom=self.oom,
        )  # fmt: skip
        self.saver = CheckpointSaver(
            checkpoint_dir, loggers, self.pos, self.metrics, self.hooks,
            run_dir=run_dir, is_main=self.dist.is_main,
        )  # fmt: skip
        self._last_step: dict[str, float] | None = None  # loss, lr, grad_norm of the last step
        self._validated_at = -1

    # Read-only views for the session and the hooks.
    @property
    def epoch(self) -> int:
        return self.pos.epoch

    @property
    def global_step(self) -> int:
        return self.pos.global_step

    @property
    def best(self) -> BestTracker:
        return self.trackers.best

    # ----------------------------------------------------------------------------- the loop
    def run(self) -> StopReason:
        """Train until done; returns why it stopped."""
        pos = self.pos
        with self.signals:
            while pos.stop_reason is None and pos.epoch < self.cfg.training.epochs:
                try:
                    self.train_epoch()
                except Rollback:
                    self.rollback()
                    continue
                if pos.stop_reason is None:
                    self.end_epoch()
            signalled = pos.stop_reason is not None and pos.stop_reason.signal_name is not None
            if pos.batch_in_epoch > 0 and not signalled:
                self.finish_partial_epoch()
        return pos.stop_reason or StopReason.EPOCHS_DONE

    def finish_partial_epoch(self) -> None:
        """A run that ends mid-epoch (max_steps, a hook, early stopping between epochs) still
        ends with a validation of its final weights and a last.pth."""
        if self.data.val is not None and self._validated_at != self.pos.global_step:
            self.save_and_prune(*self.validate_and_track())
        if self.cfg.checkpointing.save_last:
            self.save(["last.pth"])

    def train_epoch(self) -> None:
        self.model.train()
        pos = self.pos
        progress = EpochProgress(
            pos.epoch + 1, self.cfg.training.epochs, self.n_batches, enabled=self.progress_bar
        )
        progress.advance_to(pos.batch_in_epoch)
        window = Window()
        started = time.perf_counter()
        micro = 0
        batches = self.data.train.epoch(pos.epoch, start_batch=pos.batch_in_epoch)
        for x, y in timed_batches(batches, window, mark=self.mark_data_waits):
            if micro == 0:
                self.dist.mark_step(self)  # what rank 0 saves if a peer vanishes in this step
                self.accumulated.open(pos.batch_in_epoch)
            micro += 1
            closes = micro == self.accumulation or pos.batch_in_epoch + 1 == self.n_batches
            self.accumulated.add(x, y, closes=closes, step=pos.global_step, epoch=pos.epoch + 1)
            pos.batch_in_epoch += 1
            window.samples += len(y)
            if closes:
                loss_value = self.optimizer_step()
                micro = 0
                progress.update(pos.batch_in_epoch, loss_value)
                pos.totals.seconds += time.perf_counter() - started
                started = time.perf_counter()
                self.after_step(window)
                if pos.stop_reason is not None:
                    break
            if pos.batch_in_epoch >= self.n_batches:
                break
        progress.close()

    def optimizer_step(self) -> float:
        pos, acc = self.pos, self.accumulated
        lr = self.schedule.lr_at(pos.global_step)
        set_lr(self.optimizer, lr)
        scaler = self.precision.scaler
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        norm = grad_norm(self.model.parameters())
        # One host sync per step for loss, gradient norm and accuracy together.
        loss_value, norm_value, correct = torch.stack(
            [acc.loss, norm.float().to(acc.loss.device), acc.correct.float()]
        ).tolist()
        scale = float(scaler.get_scale()) if scaler is not None else None
        verdict = step_verdict(
            loss_value, norm_value, scaler_active=scaler is not None, loss_scale=scale
        )
        # one rank's non-finite step is every rank's: they skip or roll back together
        if self.dist.enabled and self.dist.any_true(verdict == "nonfinite"):
            verdict = "nonfinite"
        if verdict == "nonfinite":
            self.optimizer.zero_grad(set_to_none=True)
            self.nan_policy.on_nonfinite(loss_value, norm_value, pos)
            return loss_value
        clip = self.cfg.training.gradient_clip
        if verdict == "ok" and clip and needs_clipping(norm_value, clip):
            clip_to(self.model.parameters(), clip, norm)
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()
        pos.consecutive_skips = 0
        pos.global_step += 1
        pos.totals.loss_sum += loss_value * acc.samples
        pos.totals.correct += correct
        pos.totals.samples += acc.samples
        self._last_step = {"loss": loss_value, "lr": lr, "grad_norm": norm_value}
        return loss_value

    def after_step(self, window: Window) -> None:
        self.dist.mark_step(self)  # a step just completed: rank 0 can save it if a peer vanishes
        pos, last = self.pos, self._last_step
        if last is not None and pos.global_step % self.cfg.logging.log_every_n_steps == 0:
            self.log.log(window.step_record(pos.global_step, pos.epoch + 1, last))
            window.restart()
        for hook in self.hooks:
            hook.on_step(RunState(pos.epoch + 1, pos.global_step, dict(last or {}), self.run_dir))
        every = self.cfg.training.val_every_n_steps
        if every and pos.global_step % every == 0 and pos.batch_in_epoch < self.n_batches:
            self.save_and_prune(*self.validate_and_track())
        max_steps = self.cfg.training.max_steps
        if max_steps is not None and pos.global_step >= max_steps:
            pos.stop_reason = StopReason.MAX_STEPS
        received = self.signals.received
        if self.dist.enabled:
            received = self._agree_on_stop()
        if received is not None:
            pos.stop_reason = StopReason.for_signal(received)
            self.save(["last.pth"])
        elif pos.stop_reason is None and self.saver.step_save_due(self.cfg.checkpointing):
            self.save(["last.pth"])

    def end_epoch(self) -> None:
        pos = self.pos
        train_metrics = self.train_metrics()
        seconds, samples = pos.totals.seconds, pos.totals.samples
        pos.next_epoch()
        self.metrics.update(train_metrics)
        last_epoch = pos.epoch >= self.cfg.training.epochs
        # Every checkpoint of this epoch's end is written after its epoch record: a best.pth
        # saved before it would resume (after a kill) into logs that never get that record.
        earned: list[str] = []
        displaced: list[str] = []
        if self.data.val is not None and (
            pos.epoch % self.cfg.logging.val_every_n_epochs == 0 or last_epoch
        ):
            earned, displaced = self.validate_and_track()
        val = {k: v for k, v in self.metrics.items() if k.startswith("val_")}
        self.log.log(
            {
                "type": "epoch",
                "step": pos.global_step,
                "epoch": pos.epoch,
                "metrics": {**train_metrics, **val},
                "samples_per_sec": samples / max(1e-9, seconds),
                "duration": seconds,
            }
        )
        self.save_and_prune(earned + epoch_end_files(self.cfg.checkpointing, pos.epoch), displaced)

    def train_metrics(self) -> dict[str, float]:
        t = self.pos.totals
        # data-parallel: the averages over every rank's samples (identity in one process)
        loss_sum, correct, samples = self.dist.sum_floats([t.loss_sum, t.correct, t.samples])
        out = {"lr": self.schedule.lr_at(max(0, self.pos.global_step - 1))}
        if samples:
            out["train_loss"] = loss_sum / samples
            if self.classification:
                out["train_accuracy"] = correct / samples
        return out

    # ----------------------------------------------------------------------------- validation
    def validate_and_track(self) -> Saves:
        """Validate, log, update the schedule and trackers, ask the hooks; returns the
        checkpoint files the result earned and those it displaced (the caller writes them)."""
        pos = self.pos
        self._validated_at = pos.global_step
        assert self.data.val is not None  # callers check: a run without validation data
        raw, cm = run_validation(
            self.model, self.data.val, self.loss_fn, self.precision, self.device, self.spec,
            max_batches=self.limits.val_batches,
        )  # fmt: skip
        metrics = {f"val_{k}": v for k, v in raw.items()}
        self.metrics.update(metrics)
        record: dict[str, Any] = {
            "type": "validation",
            "step": pos.global_step,
            "epoch": pos.epoch_label,
            "metrics": metrics,
        }
        if pos.batch_in_epoch:
            record["in_epoch"] = True
        if cm is not None:
            record["confusion_matrix"] = cm
        self.log.log(record)
        if self.schedule.on_validation(metrics):
            self.log.text.info(f"plateau: LR factor lowered to {self.schedule.factor:g}")
        early = self.trackers.early_stopping
        if self.cfg.early_stopping.enabled and early.update(metrics):
            pos.stop_reason = StopReason.EARLY_STOPPING
            self.log.log(
                {
                    "type": "event",
                    "event": "early_stop",
                    "step": pos.global_step,
                    "metric": early.metric,
                    "best": early.best,
                }
            )
        saves = earned_files(
            self.trackers,
            self.cfg.checkpointing,
            metrics,
            pos,
            mid_epoch_names=self.cfg.training.val_every_n_steps is not None,
        )
        state = RunState(pos.epoch + 1, pos.global_step, dict(metrics), self.run_dir)
        for hook in self.hooks:
            if hook.on_validation(state):
                pos.stop_reason = pos.stop_reason or StopReason.HOOK
        if self.dist.enabled:
            # every rank validated the same weights on the same data; agreeing anyway keeps a
            # rank-local hook (or a last-bit metric difference) from leaving a rank behind
            pos.stop_reason = self.dist.agree_stop(pos.stop_reason)
        return saves

    # ----------------------------------------------------------------------------- checkpoints
    def save_and_prune(self, names: list[str], to_delete: list[str]) -> None:
        self.save(names)
        self.saver.delete(to_delete)

    def save(self, names: list[str]) -> None:
        if names:
            self.saver.save(names, self.state_dict)
            self.nan_policy.saved()

    def _agree_on_stop(self) -> str | None:
        """The signal every rank acts on at this step: one that reached any rank.

        Ranks get a forwarded signal at slightly different times; deciding on the all-reduced
        value (not on each rank's own flag) makes all of them stop after the same step.
        """
        local = self.signals.received
        mine = StopReason.for_signal(local) if local else self.pos.stop_reason
        agreed = self.dist.agree_stop(mine)
        if agreed is not None and agreed.signal_name is not None:
            self.signals.received = agreed.signal_name  # the exit code follows it
            return self.signals.received
        if agreed is not None:
            self.pos.stop_reason = agreed
        return None

    # ----------------------------------------------------------------------------- non-finite
    def rollback(self) -> None:
        """nan_policy: rollback: back to the last checkpoint, with a lower learning rate."""
        state, source = self.nan_policy.restore_point(self.saver.last_saved)
        factor = self.schedule.factor * self.cfg.training.rollback_lr_factor
        self.load_state_dict(state)
        self.schedule.factor = factor
        # The steps after the checkpoint are redone: their records must not appear twice.
        self.log.rewind({**state.get("logs", {}), "step": self.pos.global_step})
        self.log.alert(
            "rollback",
            f"rolled back to {source.name}; LR factor now {factor:g}",
            step=self.pos.global_step,
            epoch=self.pos.epoch + 1,
        )

    # ----------------------------------------------------------------------------- state
    def parts(self) -> dict[str, checkpointing.Stateful]:
        """The stateful parts by checkpoint key, in the order they are restored (RNG last)."""
        return {
            # torch.compile and DDP wrappers: the same keys as a plain run
            "model": unwrap(self.model),
            "optimizer": self.optimizer,
            "scheduler": self.schedule,
            "scaler": self.precision,
            "trainer": self.pos,
            "trackers": self.trackers,
            "metrics": self.metrics,
            "micro_batch": self.oom.micro_batch,
            "rng": self.rng,
        }

    def state_dict(self) -> dict[str, Any]:
        """The parts' states and the run record: everything a resumed run needs."""
        record = checkpointing.run_record(
            self.cfg,
            self.spec,
            self.loss_fn,
            self.lineage,
            self.log.positions(),
            self.run_dir,
            parameter_count(unwrap(self.model)),
        )
        return {**checkpointing.parts_state(self.parts()), **record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        parts = self.parts()
        rng = parts.pop("rng")
        del parts["micro_batch"]
        checkpointing.load_parts(parts, state)
        self.oom.restore(state.get("micro_batch", {}))
        if self.pos.saved_world_size != self.dist.world_size:  # a resume in another world size
            self.pos.batch_in_epoch, _ = rescale_batch(
                self.pos.batch_in_epoch,
                self.pos.saved_world_size,
                self.dist.world_size,
                self.cfg.data.batch,
                getattr(self.data.train, "total_samples", self.data.train.num_samples),
                self.n_batches,
            )
        if self.pos.batch_in_epoch >= self.n_batches:  # saved after the last step, before
            self.pos.batch_in_epoch = self.n_batches  # the epoch closed
        rng.load_state_dict(state["rng"])
