"""``trainforge verify-resume``: prove on a user's own config that kill-and-resume is exact.

The config is trained twice in child processes: once uninterrupted, once SIGKILLed at random
(but seeded) moments, each kill followed by ``--resume auto``. The final weights of both are
compared bit for bit. Real processes and real SIGKILLs, because what a kill can break (a
half-written file, buffered logs, an iterator's position) only shows up that way.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import torch

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig, load_config
from trainforge.errors import TrainforgeError
from trainforge.logging import read_jsonl

# The final weights are read from last.pth, so both runs must write it.
FORCED_OVERRIDES = ("checkpointing.save_last=true",)
POLL_S = 0.005


class VerifyError(TrainforgeError):
    """A run that verify-resume started failed on its own (not because of a kill)."""

    exit_code = 1


@dataclass
class KillPoint:
    """One planned kill: at the first logged step >= ``target_step`` plus ``delay_s``."""

    target_step: int
    delay_s: float
    killed_at_step: int | None = None  # the last step logged before the kill; None: not killed
    seconds_into_launch: float = 0.0


@dataclass
class Difference:
    name: str
    max_abs_diff: float | None  # None when shapes or dtypes differ
    detail: str


@dataclass
class VerifyReport:
    match: bool
    kills: list[KillPoint]
    difference: Difference | None
    reference: Path
    interrupted: Path
    total_steps: int
    seconds: float
    launches: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- child processes
def train_command(
    config: str | Path | None,
    output: Path,
    overrides: Sequence[str] = (),
    *,
    resume: str | None = None,
    overwrite: bool = False,
    n_gpus: int | None = None,
) -> list[str]:
    command = [sys.executable, "-m", "trainforge", "train", "--output", str(output)]
    if n_gpus is not None:
        command += ["--distributed", "--n_gpus", str(n_gpus)]
    if config is not None:
        command += ["--config", str(config)]
    for item in overrides:
        command += ["--set", item]
    if resume is not None:
        command += ["--resume", resume]
    if overwrite:
        command.append("--overwrite")
    return command


def launch(command: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Launch:
    """Start a training process in its own session, so a kill reaches its data workers too."""
    return Launch(command, log, env)


class Launch:
    def __init__(self, command: Sequence[str], log: Path, env: dict[str, str] | None) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log
        self._log: IO[bytes] = log.open("ab")
        self.started = time.time()
        self.process = subprocess.Popen(
            list(command),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Send ``signum`` to the trainer only, or (SIGKILL) to its process group and every
        process below it: a distributed launcher's workers sit in process groups of their
        own, and would save on their launcher's death instead of dying with it."""
        if signum != signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)
            return
        import psutil

        with contextlib.suppress(psutil.Error):
            below = psutil.Process(self.process.pid).children(recursive=True)
            for child in below:  # first, so none of them sees its parent go
                with contextlib.suppress(psutil.Error):
                    child.send_signal(signal.SIGSTOP)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
            for child in below:
                with contextlib.suppress(psutil.Error):
                    child.kill()

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.returncode is not None:
                self._log.close()

    def tail(self, lines: int = 1) -> str:
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " / ".join(text[-lines:]) if text else "(no output)"


# --------------------------------------------------------------------------- watching a run
def latest_step(metrics: Path, since: float) -> int | None:
    """The newest step record's step written after the run's start/resume event at or after
    ``since`` (a unix time), or None. A resume cuts the file back, so it is read afresh."""
    try:
        data = metrics.read_bytes()
    except FileNotFoundError:
        return None
    step: int | None = None
    for raw in reversed(data.split(b"\n")):
        try:
            record = json.loads(raw)
        except ValueError:  # empty or a line still being written
            continue
        kind = record.get("type")
        if kind == "step" and step is None:
            step = int(record["step"])
        elif kind == "event" and record.get("event") in ("start", "resume"):
            return step if float(record.get("time", 0)) >= since else None
    return None


def wait_for_step(
    run: Launch, metrics: Path, target: int, timeout: float, *, poll: float = POLL_S
) -> int | None:
    """Block until the run logs a step >= ``target``; None if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = latest_step(metrics, run.started - 1.0)
        if step is not None and step >= target:
            return step
        if not run.running():
            return None
        time.sleep(poll)
    raise VerifyError(f"no step {target} within {timeout:.0f} s; see {run.log_path}")


# --------------------------------------------------------------------------- comparing weights
def first_difference(
    reference: dict[str, torch.Tensor], other: dict[str, torch.Tensor]
) -> Difference | None:
    """The first tensor (in the reference's order) that is not bitwise equal, or None."""
    for name, ref in reference.items():
        if name not in other:
            return Difference(name, None, "missing from the resumed run's weights")
        got = other[name]
        if ref.shape != got.shape or ref.dtype != got.dtype:
            return Difference(
                name,
                None,
                f"{list(ref.shape)} {ref.dtype} vs {list(got.shape)} {got.dtype}",
            )
        if not torch.equal(ref, got):
            diff = (ref.double() - got.double()).abs().max().item()
            changed = int((ref != got).sum())
            return Difference(name, diff, f"{changed} of {ref.numel()} values differ")
    extra = [name for name in other if name not in reference]
    if extra:
        return Difference(extra[0], None, "only in the resumed run's weights")
    return None


@dataclass(frozen=True)
class RunLayout:
    """Where a run of the config keeps its checkpoints and logs (``checkpointing.save_dir``
    and ``logging.log_dir``, relative to the run folder)."""

    save_dir: str = "checkpoints"
    log_dir: str = "logs"

    @classmethod
    def of(cls, cfg: TrainConfig) -> RunLayout:
        # The schema keeps both inside the run folder (relative, no '..'), so the reference
        # and the interrupted run never share them.
        return cls(cfg.checkpointing.save_dir, cfg.logging.log_dir)

    def last_checkpoint(self, run_dir: Path) -> Path:
        return run_dir / self.save_dir / "last.pth"

    def metrics(self, run_dir: Path) -> Path:
        return run_dir / self.log_dir / "metrics.json"


def final_weights(run_dir: Path, layout: RunLayout = RunLayout()) -> dict[str, torch.Tensor]:
    state = load_checkpoint(layout.last_checkpoint(run_dir))
    return dict(state["model"])


def _run_summary(run_dir: Path, layout: RunLayout) -> tuple[int, float]:
    """(final global step, seconds from the first step record to the end)."""
    records = read_jsonl(layout.metrics(run_dir))
    steps = [r for r in records if r.get("type") == "step"]
    end = [r for r in records if r.get("type") == "event" and r.get("event") == "end"]
    if not end:
        raise VerifyError(f"the reference run in {run_dir} did not finish")
    total = int(end[-1].get("step") or 0)
    seconds = float(end[-1]["time"]) - float(steps[0]["time"]) if steps else 0.0
    return total, max(seconds, 0.0)


def plan_kills(total_steps: int, kills: int, seconds: float, seed: int) -> list[KillPoint]:
    """Kill steps drawn without repeats from the run's steps, ascending, each with a delay of
    up to one step's time so kills also land inside saves and validations."""
    rng = random.Random(seed)
    steps = sorted(rng.sample(range(1, total_steps), min(kills, max(0, total_steps - 1))))
    per_step = seconds / max(1, total_steps)
    return [KillPoint(step, rng.uniform(0.0, per_step)) for step in steps]


# --------------------------------------------------------------------------- the check
def verify_resume(
    config: str | Path,
    *,
    kills: int = 3,
    seed: int = 0,
    output: str | Path = "verify_resume",
    overrides: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout_s: float = 3600.0,
    echo: Callable[[str], None] = print,
    n_gpus: int | None = None,
) -> VerifyReport:
    """Train ``config`` uninterrupted and with ``kills`` SIGKILLs; compare final weights.

    ``n_gpus``: both runs are ``--distributed`` with that many processes (gloo on CPU), and
    each kill takes down the launcher and every worker at once."""
    began = time.monotonic()
    out = Path(output)
    reference, interrupted = out / "reference", out / "interrupted"
    sets = [*overrides, *FORCED_OVERRIDES]
    layout = RunLayout.of(load_config(config, sets))

    echo(f"reference run (uninterrupted) -> {reference}")
    ref = launch(
        train_command(config, reference, sets, overwrite=True, n_gpus=n_gpus),
        out / "reference.log",
        env,
    )
    if ref.wait(timeout_s) != 0:
        raise VerifyError(f"the reference run failed: {ref.tail()} (log: {ref.log_path})")
    total, seconds = _run_summary(reference, layout)
    plan = plan_kills(total, kills, seconds, seed)
    echo(f"reference: {total} steps in {seconds:.1f} s of training")

    log = out / "interrupted.log"
    launches = 0
    for number, point in enumerate(plan, 1):
        command = (
            train_command(config, interrupted, sets, overwrite=True, n_gpus=n_gpus)
            if number == 1
            else train_command(config, interrupted, sets, resume="auto", n_gpus=n_gpus)
        )
        run = launch(command, log, env)
        launches += 1
        seen = wait_for_step(run, layout.metrics(interrupted), point.target_step, timeout_s)
        if seen is not None:
            time.sleep(point.delay_s)
            point.killed_at_step = latest_step(layout.metrics(interrupted), run.started)
            run.kill()
        run.wait(timeout_s)
        point.seconds_into_launch = time.time() - run.started
        if seen is None:
            echo(f"kill {number}: the run finished before step {point.target_step}")
        else:
            echo(
                f"kill {number}: SIGKILL after step {point.killed_at_step} "
                f"(target {point.target_step} + {point.delay_s * 1000:.0f} ms), "
                f"{point.seconds_into_launch:.1f} s into launch {launches}"
            )
    final = launch(train_command(config, interrupted, sets, resume="auto", n_gpus=n_gpus), log, env)
    launches += 1
    if final.wait(timeout_s) != 0:
        raise VerifyError(f"the resumed run failed: {final.tail()} (log: {final.log_path})")

    difference = first_difference(
        final_weights(reference, layout), final_weights(interrupted, layout)
    )
    return VerifyReport(
        match=difference is None,
        kills=plan,
        difference=difference,
        reference=reference,
        interrupted=interrupted,
        total_steps=total,
        seconds=time.monotonic() - began,
        launches=launches,
    )


def describe(report: VerifyReport) -> str:
    """The verdict in one or two lines."""
    killed = sum(1 for k in report.kills if k.killed_at_step is not None)
    head = (
        f"{killed} SIGKILL(s) over {report.launches} launches, {report.total_steps} steps, "
        f"{report.seconds:.1f} s"
    )
    if report.match:
        return f"MATCH: final weights are bitwise identical ({head})"
    d = report.difference or Difference("?", None, "unknown")
    size = f", max abs difference {d.max_abs_diff:.3g}" if d.max_abs_diff is not None else ""
    return f"MISMATCH: first differing tensor {d.name!r} ({d.detail}{size}) ({head})"


__all__ = [
    "Difference",
    "KillPoint",
    "Launch",
    "RunLayout",
    "VerifyError",
    "VerifyReport",
    "describe",
    "first_difference",
    "latest_step",
    "launch",
    "plan_kills",
    "train_command",
    "verify_resume",
    "wait_for_step",
]
