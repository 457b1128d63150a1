"""The training loop: epochs of optimizer steps, validations and checkpoints, top to bottom.

The trainer is made of parts that each save and restore their own state (model, optimizer,
schedule, scaler, loop position, trackers, metrics, RNG): a checkpoint is the dict of their
``state_dict()``s plus a record of the run. Saves happen only at optimizer-step boundaries,
so the gradient-accumulation position in a checkpoint is always 0.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig
from trainforge.errors import CheckpointError
from trainforge.health.rules import FIX_NONFINITE
from trainforge.models import parameter_count
from trainforge.train import checkpointing
from trainforge.train.accumulation import window_sample_count
from trainforge.train.checkpoint_files import write_checkpoint
from trainforge.train.counters import LatestMetrics, Limits, Rollback, Window
from trainforge.train.device import Precision
from trainforge.train.distributed import DistContext, unwrap
from trainforge.train.grad_norm import clip_to, grad_norm, needs_clipping
from trainforge.train.hooks import Hook, RunState
from trainforge.train.losses import build_loss
from trainforge.train.memory_format import use_channels_last
from trainforge.train.nonfinite import step_verdict
from trainforge.train.oom import (
    FIX_OOM,
    MicroBatch,
    OutOfMemory,
    effective_accumulation,
    is_out_of_memory,
)
from trainforge.train.optim import build_optimizer, set_lr
from trainforge.train.ports import RunData, RunLog
from trainforge.train.position import LoopPosition, rescale_batch
from trainforge.train.profiling import DATA_WAIT
from trainforge.train.progress import EpochProgress
from trainforge.train.result import StopReason, TrainingDiverged
from trainforge.train.schedule import LRSchedule
from trainforge.train.seeding import RNGState
from trainforge.train.signals import StopSignals
from trainforge.train.trackers import BestTracker, EarlyStopping, TopK, Trackers
from trainforge.train.validation import run_validation

# Checkpoint files a validation earned, and those it displaced from the top k.
Saves = tuple[list[str], list[str]]


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
        self.checkpoint_dir = checkpoint_dir
        self.lineage = lineage
        self.hooks = list(hooks)
        self.mark_data_waits = False
        self.limits = limits or Limits()
        self.run_dir = run_dir
        self.dist = dist or DistContext()
        self.progress_bar = progress_bar
        self.update_metadata = update_metadata
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
        self.monitors = ck.monitors
        self.trackers = Trackers(
            EarlyStopping(es.metric, es.mode or "min", es.patience, es.min_delta),
            BestTracker({m: checkpointing.mode_of(cfg, m) for m in self.monitors}),
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
        self.micro_batch = MicroBatch()  # training.oom_policy: shrink cuts loader batches

        self.last_saved: Path | None = None
        self._last_step: dict[str, float] | None = None  # loss, lr, grad_norm of the last step
        self._last_save_time = time.monotonic()
        self._validated_at = -1
        self._rollbacks = 0

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
        step_loss = torch.zeros((), device=self.device)
        step_correct = torch.zeros((), device=self.device)
        micro = 0
        window_n = 1
        held: list[tuple[torch.Tensor, torch.Tensor]] = []  # the window's batches so far
        for x, y in self._batches(window):
            if micro == 0:
                self.optimizer.zero_grad(set_to_none=True)
                window_n = self._window_samples()
                held.clear()
            held.append((x, y))
            closes_window = (
                micro + 1 == self.accumulation or pos.batch_in_epoch + 1 == self.n_batches
            )
            with self._grad_sync(closes_window):
                self._train_batch_with_oom_policy(held, window_n, step_loss, step_correct)
            pos.batch_in_epoch += 1
            window.samples += len(y)
            micro += 1
            if micro == self.accumulation or pos.batch_in_epoch == self.n_batches:
                loss_value = self.optimizer_step(step_loss, step_correct, window_n)
                step_loss.zero_()
                step_correct.zero_()
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

    def _train_batch_with_oom_policy(
        self,
        held: list[tuple[torch.Tensor, torch.Tensor]],
        window_n: int,
        step_loss: torch.Tensor,
        step_correct: torch.Tensor,
    ) -> None:
        """Train on the newest of the window's batches: the one place an out-of-memory error
        is caught (training.oom_policy).

        ``fail`` turns it into one line with the fix. ``shrink`` halves the micro-batch, drops
        the window's partial gradients and sums and redoes the window's batches so far: the
        optimizer step that failed is redone whole, on the same samples, with the same weights.
        """
        todo = held[-1:]
        while True:
            try:
                for x, y in todo:
                    self._train_batch(x, y, window_n, step_loss, step_correct)
                return
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # outside the except block: the error's frames (and their tensors) are released,
            # and the window's partial gradients go before the cache is emptied
            self.optimizer.zero_grad(set_to_none=True)
            step_loss.zero_()
            step_correct.zero_()
            self._on_out_of_memory(message)
            todo = held

    def _on_out_of_memory(self, message: str) -> None:
        """oom_policy fail: one line with the fix; shrink: halve the micro-batch and say so."""
        pos, t = self.pos, self.cfg.training
        where = f"out of memory at step {pos.global_step + 1} ({message})"
        if t.oom_policy == "fail":
            raise OutOfMemory(f"{where}; {FIX_OOM}")
        if self.dist.enabled:  # one rank redoing a step alone would leave the others waiting
            raise OutOfMemory(
                f"{where}; training.oom_policy: shrink works in one process only: lower "
                "data.batch_size and raise training.gradient_accumulation_steps"
            )
        before = self.micro_batch.size or self.cfg.data.batch
        after = self.micro_batch.shrink(self.cfg.data.batch)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        record = self._micro_batch_record()
        self.log.alert(
            "oom_shrink",
            f"{where}; micro-batch {before} -> {after}, gradient accumulation "
            f"{record['gradient_accumulation_steps']} (same samples per optimizer step)",
            step=pos.global_step,
            epoch=pos.epoch + 1,
            evidence={"error": message, "micro_batch": before},
            fix=f"start the next run with data.batch_size: {after} and "
            f"training.gradient_accumulation_steps: {record['gradient_accumulation_steps']}",
        )
        if self.update_metadata is not None:
            self.update_metadata(memory=record)

    def _micro_batch_record(self) -> dict[str, int]:
        """The micro-batch and accumulation the run trains with now (metadata.json)."""
        batch = self.cfg.data.batch
        size = self.micro_batch.size or batch
        return {
            "micro_batch_size": size,
            "gradient_accumulation_steps": effective_accumulation(batch, self.accumulation, size),
            "oom_shrinks": self.micro_batch.shrinks,
        }

    def _train_batch(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        window_n: int,
        step_loss: torch.Tensor,
        step_correct: torch.Tensor,
    ) -> None:
        """Forward and backward one loader batch, cut into micro-batches after a shrink."""
        if x.dim() == 4:  # training.channels_last: images as NHWC (the model is, see session)
            x = x.to(self.device, non_blocking=True, memory_format=self.memory_format)
        else:
            x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        size = self.micro_batch.size
        pieces = zip(x.split(size), y.split(size), strict=True) if size else [(x, y)]
        for xs, ys in pieces:
            weight = len(ys) / window_n
            out, loss = self._forward_backward(xs, ys, weight)
            step_loss += loss.detach().float() * weight
            if self.classification:
                step_correct += (out.detach().argmax(1) == ys).sum()

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
        pos = self.pos
        lr = self.schedule.lr_at(pos.global_step)
        set_lr(self.optimizer, lr)
        scaler = self.precision.scaler
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        norm = grad_norm(self.model.parameters())
        # One host sync per step for loss, gradient norm and accuracy together.
        loss_value, norm_value, correct = torch.stack(
            [step_loss, norm.float().to(step_loss.device), step_correct.float()]
        ).tolist()
        scale = float(scaler.get_scale()) if scaler is not None else None
        verdict = step_verdict(
            loss_value, norm_value, scaler_active=scaler is not None, loss_scale=scale
        )
        # one rank's non-finite step is every rank's: they skip or roll back together
        if self.dist.enabled and self.dist.any_true(verdict == "nonfinite"):
            verdict = "nonfinite"
        if verdict == "nonfinite":
            self.on_nonfinite(loss_value, norm_value)
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
        pos.totals.loss_sum += loss_value * window_n
        pos.totals.correct += correct
        pos.totals.samples += window_n
        self._last_step = {"loss": loss_value, "lr": lr, "grad_norm": norm_value}
        return loss_value

    def after_step(self, window: Window) -> None:
        pos, last = self.pos, self._last_step
        if last is not None and pos.global_step % self.cfg.logging.log_every_n_steps == 0:
            elapsed = max(1e-9, time.perf_counter() - window.start)
            self.log.log(
                {
                    "type": "step",
                    "step": pos.global_step,
                    "epoch": pos.epoch + 1,
                    **last,
                    "samples_per_sec": window.samples / elapsed,
                    "data_wait": min(1.0, window.data_wait / elapsed),
                }
            )
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
        elif pos.stop_reason is None and self._step_save_due():
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
        names = []
        every = self.cfg.checkpointing.save_every_n_epochs
        if every and pos.epoch % every == 0:
            names.append(f"epoch_{pos.epoch:03d}.pth")
        if self.cfg.checkpointing.save_last:
            names.append("last.pth")
        # last.pth stays the last file written, so --resume auto prefers it.
        self.save_and_prune(earned + names, displaced)

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
    def validate(self) -> tuple[dict[str, float], list[list[int]] | None]:
        assert self.data.val is not None  # callers check: a run without validation data
        return run_validation(
            self.model,
            self.data.val,
            self.loss_fn,
            self.precision,
            self.device,
            self.spec,
            max_batches=self.limits.val_batches,
        )

    def validate_and_track(self) -> Saves:
        """Validate, log, update the schedule and trackers, ask the hooks; returns the
        checkpoint files the result earned and those it displaced (the caller writes them)."""
        pos = self.pos
        self._validated_at = pos.global_step
        raw, cm = self.validate()
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
        saves = self.track_best(metrics)
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
    def track_best(self, metrics: dict[str, float]) -> Saves:
        """Offer a validation to the best and top-k trackers: the files it earned, and the
        top-k files it displaced."""
        pos, ck = self.pos, self.cfg.checkpointing
        names = []
        for name in self.trackers.best.improved(metrics, pos.global_step):
            if ck.save_best:
                names.append(checkpointing.best_name(name, first=name == self.monitors[0]))
        first = self.monitors[0]
        to_delete: list[str] = []
        if ck.keep_top_k and first in metrics:
            name = checkpointing.top_k_name(
                pos.epoch_label,
                pos.global_step,
                first,
                metrics[first],
                mid_epoch=self.cfg.training.val_every_n_steps is not None,
            )
            keep, to_delete = self.trackers.top_k.offer(name, metrics[first])
            if keep:
                names.append(name)
        return names, to_delete

    def save_and_prune(self, names: list[str], to_delete: list[str]) -> None:
        self.save(names)
        self._delete(to_delete)

    def save(self, names: list[str]) -> None:
        if not names:
            return
        if not self.dist.is_main:  # rank 0 writes every file of a data-parallel run
            self._last_save_time = time.monotonic()
            self._rollbacks = 0
            return
        # The events go to the log before the state is taken, so the log positions stored in
        # the checkpoint include them: a run resumed from it keeps the record of its save.
        for name in names:
            self.log.log(self._checkpoint_event("checkpoint", self.checkpoint_dir / name))
        state = self.state_dict()
        written: Path | None = None  # the state is serialised once, then copied
        for name in names:
            target = self.checkpoint_dir / name
            try:
                path = write_checkpoint(state, target, copy_of=written)
                written = path
            except CheckpointError:
                self.log.log(self._checkpoint_event("checkpoint_failed", target))
                raise
            self.last_saved = path
            snapshot = RunState(
                self.pos.epoch_label, self.pos.global_step, dict(self.metrics), self.run_dir
            )
            for hook in self.hooks:
                hook.on_checkpoint(path, snapshot)
        self._last_save_time = time.monotonic()
        self._rollbacks = 0  # a new checkpoint is progress past the last divergence

    def _checkpoint_event(self, event: str, path: Path) -> dict[str, Any]:
        return {
            "type": "event",
            "event": event,
            "step": self.pos.global_step,
            "epoch": self.pos.epoch_label,
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
        mine = StopReason.for_signal(local) if local else self.pos.stop_reason
        agreed = self.dist.agree_stop(mine)
        if agreed is not None and agreed.signal_name is not None:
            self.signals.received = agreed.signal_name  # the exit code follows it
            return self.signals.received
        if agreed is not None:
            self.pos.stop_reason = agreed
        return None

    def _step_save_due(self) -> bool:
        ck = self.cfg.checkpointing
        if ck.save_every_n_steps and self.pos.global_step % ck.save_every_n_steps == 0:
            return True
        if ck.save_every_n_minutes:
            return time.monotonic() - self._last_save_time >= ck.save_every_n_minutes * 60
        return False

    # ----------------------------------------------------------------------------- non-finite
    def on_nonfinite(self, loss: float, grad_norm: float) -> None:
        policy = self.cfg.training.nan_policy
        pos = self.pos
        what = f"non-finite {'loss' if not math.isfinite(loss) else 'gradient norm'} at step {pos.global_step + 1}"
        self.log.alert(
            "nonfinite",
            f"{what} (loss={loss}, grad_norm={grad_norm}); nan_policy: {policy}",
            level="error" if policy == "stop" else "warning",
            step=pos.global_step,
            epoch=pos.epoch + 1,
            evidence={"loss": str(loss), "grad_norm": str(grad_norm)},
            fix=FIX_NONFINITE,
        )
        self.optimizer.zero_grad(set_to_none=True)
        if policy == "skip":
            pos.consecutive_skips += 1
            if pos.consecutive_skips > self.cfg.training.max_consecutive_skips:
                raise TrainingDiverged(
                    f"{pos.consecutive_skips} non-finite steps in a row (max_consecutive_skips="
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
        state: dict[str, Any] | None = None
        if self.dist.enabled:
            # every rank diverged at this step (see optimizer_step): rank 0 reads its file
            # and hands the state to all, so no rank needs to see rank 0's disk
            if self.dist.is_main and source is not None and source.exists():
                state = load_checkpoint(source, map_location="cpu")
            state, source = self.dist.broadcast((state, source))
        elif source is not None and source.exists():
            state = load_checkpoint(source, map_location=self.device)
        if state is None or source is None:
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
            "micro_batch": self.micro_batch,
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
        micro_batch = self.micro_batch
        checkpointing.load_parts(parts, state)
        # a checkpoint from before training.oom_policy has none: the loader's batch, uncut
        saved = MicroBatch()
        saved.load_state_dict(state.get("micro_batch", {}))
        if saved.shrinks > micro_batch.shrinks:  # a rollback keeps a later shrink
            micro_batch.load_state_dict(saved.state_dict())
        if micro_batch.shrinks and self.update_metadata is not None:
            self.update_metadata(memory=self._micro_batch_record())
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

    # ----------------------------------------------------------------------------- helpers
    def _batches(self, window: Window) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The rest of this epoch's batches, with the time spent waiting for each."""
        pos = self.pos
        iterator = iter(self.data.train.epoch(pos.epoch, start_batch=pos.batch_in_epoch))
        while True:
            t0 = time.perf_counter()
            try:
                if self.mark_data_waits:  # training.profile: each wait shows in the trace
                    with torch.profiler.record_function(DATA_WAIT):
                        batch = next(iterator)
                else:
                    batch = next(iterator)
            except StopIteration:
                return
            window.data_wait += time.perf_counter() - t0
            yield batch

    def _window_samples(self) -> int:
        train = self.data.train
        return window_sample_count(
            self.pos.batch_in_epoch,
            len(train),
            self.cfg.data.batch,
            train.num_samples,
            self.accumulation,
            self.cfg.data.drop_last,
        )
