"""The training loop: epochs of optimizer steps, validations and checkpoints, top to bottom.

Everything a resumed run needs lives in ``Trainer.state_dict()``; saves happen only at
optimizer-step boundaries, so the gradient-accumulation position in a checkpoint is always 0.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig
from trainforge.errors import CheckpointError
from trainforge.train import checkpointing
from trainforge.train.accumulation import window_sample_count
from trainforge.train.counters import EpochTotals, Limits, Rollback, Window
from trainforge.train.device import Precision
from trainforge.train.distributed import DistContext
from trainforge.train.hooks import Hook, RunState
from trainforge.train.losses import build_loss
from trainforge.train.nonfinite import step_verdict
from trainforge.train.optim import build_optimizer, set_lr
from trainforge.train.progress import EpochProgress
from trainforge.train.result import TrainingDiverged
from trainforge.train.schedule import LRSchedule
from trainforge.train.signals import StopSignals
from trainforge.train.trackers import BestTracker, EarlyStopping, TopK
from trainforge.train.validation import run_validation


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        data: Any,
        device: torch.device,
        loggers: Any,
        checkpoint_dir: Path,
        *,
        lineage: dict[str, Any],
        hooks: Sequence[Hook] = (),
        limits: Limits | None = None,
        run_dir: Path | None = None,
        dist: DistContext | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.data = data
        self.device = device
        self.log = loggers
        self.checkpoint_dir = checkpoint_dir
        self.lineage = lineage
        self.hooks = list(hooks)
        self.limits = limits or Limits()
        self.run_dir = run_dir
        self.dist = dist or DistContext()
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
        self.early_stopping = EarlyStopping(es.metric, es.mode or "min", es.patience, es.min_delta)
        ck = cfg.checkpointing
        self.monitors = ck.monitors
        self.best = BestTracker({m: checkpointing.mode_of(cfg, m) for m in self.monitors})
        self.top_k = TopK(ck.keep_top_k, ck.mode or "min")
        self.signals = StopSignals()

        # Position: the epoch in progress (0-based), batches of it consumed, optimizer steps.
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self.totals = EpochTotals()
        self.consecutive_skips = 0
        self.metrics: dict[str, float] = {}
        self.stop_reason: str | None = None
        self.last_saved: Path | None = None
        self.saved: dict[str, Path] = {}
        self._last_save_time = time.monotonic()
        self._validated_at = -1
        # While an epoch closes, best/top-k saves wait for its epoch record (see end_epoch).
        self._deferred: list[str] | None = None
        self._deferred_deletes: list[str] = []
        self._rollbacks = 0

    # ----------------------------------------------------------------------------- the loop
    def run(self) -> str:
        """Train until done; returns the stop reason."""
        with self.signals:
            while self.stop_reason is None and self.epoch < self.cfg.training.epochs:
                try:
                    self.train_epoch()
                except Rollback:
                    self.rollback()
                    continue
                if self.stop_reason is None:
                    self.end_epoch()
            if self.batch_in_epoch > 0 and not (self.stop_reason or "").startswith("signal:"):
                self.finish_partial_epoch()
        return self.stop_reason or "epochs_done"

    def finish_partial_epoch(self) -> None:
        """A run that ends mid-epoch (max_steps, a hook, early stopping between epochs) still
        ends with a validation of its final weights and a last.pth."""
        if self.data.val is not None and self._validated_at != self.global_step:
            self.validate_and_track()
        if self.cfg.checkpointing.save_last:
            self.save(["last.pth"])

    def train_epoch(self) -> None:
        self.model.train()
        progress = EpochProgress(self.log, self.epoch + 1, self.cfg.training.epochs, self.n_batches)
        progress.advance_to(self.batch_in_epoch)
        window = Window()
        started = time.perf_counter()
        step_loss = torch.zeros((), device=self.device)
        step_correct = torch.zeros((), device=self.device)
        micro = 0
        window_n = 1
        for x, y in self._batches(window):
            if micro == 0:
                self.optimizer.zero_grad(set_to_none=True)
                window_n = self._window_samples()
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            weight = len(y) / window_n
            closes_window = (
                micro + 1 == self.accumulation or self.batch_in_epoch + 1 == self.n_batches
            )
            with self._grad_sync(closes_window):
                out, loss = self._forward_backward(x, y, weight)
            step_loss += loss.detach().float() * weight
            if self.classification:
                step_correct += (out.detach().argmax(1) == y).sum()
            self.batch_in_epoch += 1
            window.samples += len(y)
            micro += 1
            if micro == self.accumulation or self.batch_in_epoch == self.n_batches:
                loss_value = self.optimizer_step(step_loss, step_correct, window_n)
                step_loss.zero_()
                step_correct.zero_()
                micro = 0
                progress.update(self.batch_in_epoch, loss_value)
                self.totals.seconds += time.perf_counter() - started
                started = time.perf_counter()
                self.after_step(window, loss_value)
                if self.stop_reason is not None:
                    break
            if self.batch_in_epoch >= self.n_batches:
                break
        progress.close()

    def _forward_backward(
        self, x: torch.Tensor, y: torch.Tensor, weight: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One micro-batch; its mean loss is weighted by its share of the accumulation window."""
        with self.precision.autocast():
            out = self.model(x)
            loss = self.loss_fn(out, y)
        scaled = loss * weight
        if self.precision.scaler is not None:
            self.precision.scaler.scale(scaled).backward()
        else:
            scaled.backward()
        return out, loss

    def _grad_sync(self, closes_window: bool) -> contextlib.AbstractContextManager[Any]:
        """Data-parallel: gradients are all-reduced once per optimizer step, on the micro-batch
        that closes the accumulation window, not after every micro-batch."""
        no_sync: Any = getattr(self.model, "no_sync", None)
        if self.dist.enabled and not closes_window and no_sync is not None:
            return no_sync()  # type: ignore[no-any-return]
        return contextlib.nullcontext()

    def optimizer_step(
        self, step_loss: torch.Tensor, step_correct: torch.Tensor, window_n: int
    ) -> float:
        lr = self.schedule.lr_at(self.global_step)
        set_lr(self.optimizer, lr)
        scaler = self.precision.scaler
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        clip = self.cfg.training.gradient_clip
        # clip_grad_norm_ skips parameters without a gradient; inf max_norm only measures.
        norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), clip if clip else float("inf")
        )
        # One host sync per step for loss, gradient norm and accuracy together.
        loss_value, norm_value, correct = torch.stack(
            [step_loss, norm.float().to(step_loss.device), step_correct.float()]
        ).tolist()
        scale = float(scaler.get_scale()) if scaler is not None else None
        verdict = step_verdict(
            loss_value, norm_value, scaler_active=scaler is not None, loss_scale=scale
        )
        if verdict == "nonfinite":
            self.on_nonfinite(loss_value, norm_value)
            return loss_value
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()
        self.consecutive_skips = 0
        self.global_step += 1
        self.totals.loss_sum += loss_value * window_n
        self.totals.correct += correct
        self.totals.samples += window_n
        self._last = {"loss": loss_value, "lr": lr, "grad_norm": norm_value}
        return loss_value

    def after_step(self, window: Window, loss_value: float) -> None:
        last = getattr(self, "_last", None)
        if last is not None and self.global_step % self.cfg.logging.log_every_n_steps == 0:
            elapsed = max(1e-9, time.perf_counter() - window.start)
            self.log.log(
                {
                    "type": "step",
                    "step": self.global_step,
                    "epoch": self.epoch + 1,
                    **last,
                    "samples_per_sec": window.samples / elapsed,
                    "data_wait": min(1.0, window.data_wait / elapsed),
                }
            )
            window.__init__()  # type: ignore[misc]
        for hook in self.hooks:
            hook.on_step(RunState(self.epoch + 1, self.global_step, dict(last or {}), self.run_dir))
        every = self.cfg.training.val_every_n_steps
        if every and self.global_step % every == 0 and self.batch_in_epoch < self.n_batches:
            self.validate_and_track()
        max_steps = self.cfg.training.max_steps
        if max_steps is not None and self.global_step >= max_steps:
            self.stop_reason = "max_steps"
        received = self.signals.received
        if self.dist.enabled:
            received = self._agree_on_stop()
        if received is not None:
            self.stop_reason = f"signal:{received}"
            self.save(["last.pth"])
        elif self.stop_reason is None and self._step_save_due():
            self.save(["last.pth"])

    def end_epoch(self) -> None:
        train_metrics = self.train_metrics()
        seconds, samples = self.totals.seconds, self.totals.samples
        self.epoch += 1
        self.batch_in_epoch = 0
        self.totals = EpochTotals()
        self.metrics.update(train_metrics)
        last_epoch = self.epoch >= self.cfg.training.epochs
        # Every checkpoint of this epoch's end is written after its epoch record: a best.pth
        # saved before it would resume (after a kill) into logs that never get that record.
        self._deferred, self._deferred_deletes = [], []
        try:
            if self.data.val is not None and (
                self.epoch % self.cfg.logging.val_every_n_epochs == 0 or last_epoch
            ):
                self.validate_and_track()
        finally:
            deferred, self._deferred = self._deferred, None
        val = {k: v for k, v in self.metrics.items() if k.startswith("val_")}
        self.log.log(
            {
                "type": "epoch",
                "step": self.global_step,
                "epoch": self.epoch,
                "metrics": {**train_metrics, **val},
                "samples_per_sec": samples / max(1e-9, seconds),
                "duration": seconds,
            }
        )
        names = []
        every = self.cfg.checkpointing.save_every_n_epochs
        if every and self.epoch % every == 0:
            names.append(f"epoch_{self.epoch:03d}.pth")
        if self.cfg.checkpointing.save_last:
            names.append("last.pth")
        # last.pth stays the last file written, so --resume auto prefers it.
        self.save(deferred + names)
        self._delete(self._deferred_deletes)
        self._deferred_deletes = []

    def train_metrics(self) -> dict[str, float]:
        t = self.totals
        # data-parallel: the averages over every rank's samples (identity in one process)
        loss_sum, correct, samples = self.dist.sum_floats([t.loss_sum, t.correct, t.samples])
        out = {"lr": self.schedule.lr_at(max(0, self.global_step - 1))}
        if samples:
            out["train_loss"] = loss_sum / samples
            if self.classification:
                out["train_accuracy"] = correct / samples
        return out

    # ----------------------------------------------------------------------------- validation
    def validate(self, batches: Any = None) -> tuple[dict[str, float], list[list[int]] | None]:
        return run_validation(
            self.model,
            batches if batches is not None else self.data.val,
            self.loss_fn,
            self.precision,
            self.device,
            self.spec,
            max_batches=self.limits.val_batches,
        )

    def validate_and_track(self) -> None:
        self._validated_at = self.global_step
        raw, cm = self.validate()
        metrics = {f"val_{k}": v for k, v in raw.items()}
        self.metrics.update(metrics)
        record: dict[str, Any] = {
            "type": "validation",
            "step": self.global_step,
            "epoch": self.epoch if self.batch_in_epoch == 0 else self.epoch + 1,
            "metrics": metrics,
        }
        if self.batch_in_epoch:
            record["in_epoch"] = True
        if cm is not None:
            record["confusion_matrix"] = cm
        self.log.log(record)
        if self.schedule.on_validation(metrics):
            self.log.text.info(f"plateau: LR factor lowered to {self.schedule.factor:g}")
        if self.cfg.early_stopping.enabled and self.early_stopping.update(metrics):
            self.stop_reason = "early_stopping"
            self.log.log(
                {
                    "type": "event",
                    "event": "early_stop",
                    "step": self.global_step,
                    "metric": self.early_stopping.metric,
                    "best": self.early_stopping.best,
                }
            )
        self.save_best(metrics)
        state = RunState(self.epoch + 1, self.global_step, dict(metrics), self.run_dir)
        for hook in self.hooks:
            if hook.on_validation(state):
                self.stop_reason = self.stop_reason or "hook"
        if self.dist.enabled:
            # every rank validated the same weights on the same data; agreeing anyway keeps a
            # rank-local hook (or a last-bit metric difference) from leaving a rank behind
            self.stop_reason = self.dist.agree_stop(self.stop_reason)

    # ----------------------------------------------------------------------------- checkpoints
    def save_best(self, metrics: dict[str, float]) -> None:
        names = []
        ck = self.cfg.checkpointing
        for name in self.best.improved(metrics, self.global_step):
            if ck.save_best:
                names.append(checkpointing.best_name(name, first=name == self.monitors[0]))
        first = self.monitors[0]
        to_delete: list[str] = []
        if ck.keep_top_k and first in metrics:
            name = checkpointing.top_k_name(
                self.epoch_label(),
                self.global_step,
                first,
                metrics[first],
                mid_epoch=self.cfg.training.val_every_n_steps is not None,
            )
            keep, to_delete = self.top_k.offer(name, metrics[first])
            if keep:
                names.append(name)
        if self._deferred is not None:
            self._deferred.extend(names)
            self._deferred_deletes.extend(to_delete)
            return
        self.save(names)
        self._delete(to_delete)

    def epoch_label(self) -> int:
        return self.epoch if self.batch_in_epoch == 0 else self.epoch + 1

    def save(self, names: list[str]) -> None:
        if not names:
            return
        if not self.dist.is_main:  # rank 0 writes every file of a data-parallel run
            self._last_save_time = time.monotonic()
            return
        # The events go to the log before the state is taken, so the log positions stored in
        # the checkpoint include them: a run resumed from it keeps the record of its save.
        for name in names:
            self.log.log(self._checkpoint_event("checkpoint", self.checkpoint_dir / name))
        state = self.state_dict()
        for name in names:
            target = self.checkpoint_dir / name
            try:
                path = checkpointing.write(state, target)
            except CheckpointError:
                self.log.log(self._checkpoint_event("checkpoint_failed", target))
                raise
            self.last_saved = path
            self.saved[checkpointing.role(name)] = path
            snapshot = RunState(
                self.epoch_label(), self.global_step, dict(self.metrics), self.run_dir
            )
            for hook in self.hooks:
                hook.on_checkpoint(path, snapshot)
        self._last_save_time = time.monotonic()
        self._rollbacks = 0  # a new checkpoint is progress past the last divergence

    def _checkpoint_event(self, event: str, path: Path) -> dict[str, Any]:
        return {
            "type": "event",
            "event": event,
            "step": self.global_step,
            "epoch": self.epoch_label(),
            "path": str(path),
        }

    def _delete(self, names: list[str]) -> None:
        if self.dist.is_main:
            for name in names:
                (self.checkpoint_dir / name).unlink(missing_ok=True)

    def _agree_on_stop(self) -> str | None:
        """The signal every rank acts on at this step: one that reached any rank.

        Ranks get a forwarded signal at slightly different times; deciding on the all-reduced
        value (not on each rank's own flag) makes all of them stop after the same step.
        """
        local = self.signals.received
        agreed = self.dist.agree_stop(f"signal:{local}" if local else self.stop_reason)
        if agreed is not None and agreed.startswith("signal:"):
            self.signals.received = agreed.split(":", 1)[1]  # the exit code follows it
            return self.signals.received
        if agreed is not None:
            self.stop_reason = agreed
        return None

    def _step_save_due(self) -> bool:
        ck = self.cfg.checkpointing
        if ck.save_every_n_steps and self.global_step % ck.save_every_n_steps == 0:
            return True
        if ck.save_every_n_minutes:
            return time.monotonic() - self._last_save_time >= ck.save_every_n_minutes * 60
        return False

    # ----------------------------------------------------------------------------- non-finite
    def on_nonfinite(self, loss: float, grad_norm: float) -> None:
        policy = self.cfg.training.nan_policy
        what = f"non-finite {'loss' if not math.isfinite(loss) else 'gradient norm'} at step {self.global_step + 1}"
        self.log.alert(
            "nonfinite",
            f"{what} (loss={loss}, grad_norm={grad_norm}); nan_policy: {policy}",
            step=self.global_step,
            epoch=self.epoch + 1,
        )
        self.optimizer.zero_grad(set_to_none=True)
        if policy == "skip":
            self.consecutive_skips += 1
            if self.consecutive_skips > self.cfg.training.max_consecutive_skips:
                raise TrainingDiverged(
                    f"{self.consecutive_skips} non-finite steps in a row (max_consecutive_skips="
                    f"{self.cfg.training.max_consecutive_skips}); lower training.learning_rate or "
                    "enable training.gradient_clip"
                )
            return
        if policy == "rollback":
            raise Rollback()
        raise TrainingDiverged(
            f"training diverged: {what}; the last good checkpoint is intact. Lower "
            "training.learning_rate, set training.gradient_clip, or use training.nan_policy: skip"
        )

    def rollback(self) -> None:
        source = self.last_saved
        if source is None or not source.exists():
            raise TrainingDiverged(
                "training diverged before any checkpoint was written, so nan_policy: rollback has "
                "nothing to return to; lower training.learning_rate"
            )

        # Data that is itself non-finite diverges at any LR: give up instead of looping.
        self._rollbacks += 1
        limit = self.cfg.training.max_consecutive_skips
        if self._rollbacks > limit:
            raise TrainingDiverged(
                f"{self._rollbacks} rollbacks in a row without reaching a new checkpoint "
                f"(max_consecutive_skips={limit}); check the data for NaN/inf values or lower "
                "training.learning_rate"
            )
        factor = self.schedule.factor * self.cfg.training.rollback_lr_factor
        state = load_checkpoint(source, map_location=self.device)
        self.load_state_dict(state)
        self.schedule.factor = factor
        # The steps after the checkpoint are redone: their records must not appear twice.
        self.log.rewind({**state.get("logs", {}), "step": self.global_step})
        self.log.alert(
            "rollback",
            f"rolled back to {source.name}; LR factor now {factor:g}",
            step=self.global_step,
            epoch=self.epoch + 1,
        )

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return checkpointing.build_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        checkpointing.restore_state(self, state)

    # ----------------------------------------------------------------------------- helpers
    def _batches(self, window: Window) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The rest of this epoch's batches, with the time spent waiting for each."""
        iterator = iter(self.data.train.epoch(self.epoch, start_batch=self.batch_in_epoch))
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            window.data_wait += time.perf_counter() - t0
            yield batch

    def _window_samples(self) -> int:
        train = self.data.train
        return window_sample_count(
            self.batch_in_epoch,
            len(train),
            self.cfg.data.batch_size,
            train.num_samples,
            self.accumulation,
            self.cfg.data.drop_last,
        )
