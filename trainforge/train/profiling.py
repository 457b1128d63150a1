"""``training.profile: true`` / ``--profile``: a few optimizer steps under torch.profiler.

After a warm-up (first steps pay one-off costs: allocator growth, lazy initialisation,
cuDNN autotuning), a handful of steps are recorded into ``logs/profile/`` as a Chrome trace
(``*.pt.trace.json``: Perfetto and TensorBoard's profiler view open it), and a summary (the
operators with the most self time, and the share of wall time spent waiting for data) is
printed and written next to it. The trainer marks each wait for a batch as a ``data_wait``
range while profiling, so the trace shows those waits too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch

from trainforge.train.counters import Window
from trainforge.train.hooks import Hook, RunState

T = TypeVar("T")

DATA_WAIT = "data_wait"
WARMUP_STEPS = 5
ACTIVE_STEPS = 5
TOP_OPERATORS = 10


def profile_window(total_steps: int) -> tuple[int, int]:
    """(warm-up steps, recorded steps) for a run of ``total_steps`` optimizer steps: the
    defaults when the run is long enough, else about a third to warm up and the rest."""
    if total_steps >= WARMUP_STEPS + ACTIVE_STEPS:
        return WARMUP_STEPS, ACTIVE_STEPS
    warmup = total_steps // 3
    return warmup, max(1, total_steps - warmup)


def timed_batches(batches: Iterable[T], window: Window, *, mark: bool) -> Iterator[T]:
    """``batches``, adding the time spent waiting for each to ``window.data_wait``; with
    ``mark`` (while profiling) each wait is also a ``data_wait`` range in the trace."""
    iterator = iter(batches)
    while True:
        t0 = time.perf_counter()
        try:
            if mark:
                with torch.profiler.record_function(DATA_WAIT):
                    batch = next(iterator)
            else:
                batch = next(iterator)
        except StopIteration:
            return
        window.data_wait += time.perf_counter() - t0
        yield batch


def data_wait_share(data_wait_us: float, wall_s: float) -> float:
    return min(1.0, data_wait_us / 1e6 / wall_s) if wall_s > 0 else 0.0


class StepProfiler(Hook):
    """Starts torch.profiler after ``warmup`` steps and stops it ``active`` steps later."""

    def __init__(self, folder: Path, total_steps: int, use_cuda: bool) -> None:
        self.folder = folder
        self.warmup, self.active = profile_window(total_steps)
        self.use_cuda = use_cuda
        self.steps = 0
        self.summary: str | None = None
        self._profiler: Any = None
        self._started = 0.0
        if self.warmup == 0:
            self._start()

    @property
    def recording(self) -> bool:
        return self._profiler is not None

    def on_step(self, state: RunState) -> None:
        self.steps += 1
        if self.steps == self.warmup and self._profiler is None and self.summary is None:
            self._start()
        elif self._profiler is not None and self.steps >= self.warmup + self.active:
            self.finish(state.global_step)

    def _start(self) -> None:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if self.use_cuda:
            activities.append(ProfilerActivity.CUDA)
        self._profiler = profile(activities=activities)
        self._profiler.__enter__()
        self._started = time.perf_counter()

    def finish(self, global_step: int) -> None:
        """Stop recording (also when the run ends early), write the trace and the summary."""
        if self._profiler is None:
            return
        if self.use_cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - self._started
        profiler, self._profiler = self._profiler, None
        profiler.__exit__(None, None, None)
        self.folder.mkdir(parents=True, exist_ok=True)
        first = global_step - max(0, self.steps - self.warmup) + 1
        trace = self.folder / f"steps_{first:06d}-{global_step:06d}.pt.trace.json"
        profiler.export_chrome_trace(str(trace))
        averages = profiler.key_averages()
        waited = sum(e.cpu_time_total for e in averages if e.key == DATA_WAIT)
        share = data_wait_share(waited, wall)
        sort_by = "self_cuda_time_total" if self.use_cuda else "self_cpu_time_total"
        table = averages.table(sort_by=sort_by, row_limit=TOP_OPERATORS)
        self.summary = (
            f"profile of optimizer steps {first}-{global_step} ({wall:.3f} s): "
            f"{share:.0%} of the time waiting for data; trace {trace}\n{table}"
        )
        (self.folder / "summary.txt").write_text(self.summary + "\n", encoding="utf-8")
        print(self.summary, flush=True)


def attach_profiler(trainer: Any, folder: Path, use_cuda: bool) -> StepProfiler:
    """Profile ``trainer``'s next steps: the hook, plus data-wait ranges in its batch loop."""
    t = trainer.cfg.training
    total = trainer.steps_per_epoch * t.epochs - trainer.global_step
    if t.max_steps is not None:
        total = min(total, t.max_steps - trainer.global_step)
    profiler = StepProfiler(folder, max(1, total), use_cuda)
    trainer.hooks.append(profiler)
    trainer.mark_data_waits = True
    return profiler
