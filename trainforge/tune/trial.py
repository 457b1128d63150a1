"""The worker's side of one trial: sample, start the trial's process, answer its reports,
enforce the timeout, turn the outcome into the Optuna trial's state."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, NoReturn

import optuna

from trainforge.config import TrainConfig
from trainforge.config.tuning import TuneConfig
from trainforge.errors import ConfigError
from trainforge.train.result import EXIT_PEER_LOST
from trainforge.tune import space
from trainforge.tune.objective import Diverged, may_prune, objective_value, pruner_value
from trainforge.tune.preload import preload_modules


class TrialFailed(Exception):
    """A trial failed (its run crashed, diverged, timed out, or its config was rejected)."""


_CONTEXT: Any = None


def _context(base: TrainConfig) -> Any:
    """A forkserver that imported torch and what ``base``'s runs use once: every trial starts
    in a fresh process in milliseconds instead of importing them again. The first call fixes
    the forkserver's imports for this process."""
    global _CONTEXT
    if _CONTEXT is None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        _CONTEXT = mp.get_context(method)
        if method == "forkserver":
            _CONTEXT.set_forkserver_preload(preload_modules(base))
    return _CONTEXT


def start_forkserver(base: TrainConfig) -> None:
    """Start the forkserver now, so that its imports overlap the study's set-up instead of
    delaying the first trial (it is started on first use otherwise)."""
    if _context(base).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


@dataclass
class TrialRunner:
    """Callable Optuna objective: one trial = one trainforge run in its own process."""

    tuning: TuneConfig
    base: TrainConfig
    output: Path
    study_name: str
    storage: str
    worker: int = 0
    env: dict[str, str] = field(default_factory=dict)
    threads: int | None = None
    processes: int = 1  # > 1: each trial is a data-parallel run (see ddp_trial)

    def __call__(self, trial: optuna.Trial) -> float:
        params = space.suggest(trial, self.tuning)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("worker", self.worker)
        run_dir = self.output / "trials" / f"trial_{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        try:
            cfg = space.trial_config(self.base, params, self.tuning)
        except ConfigError as exc:
            self._fail(trial, f"the training config rejects these values: {exc}")
        data = cfg.model_dump(mode="json")
        data["provenance"] = {
            "study": self.study_name,
            "trial": trial.number,
            "storage": self.storage,
            "params": params,
        }
        outcome = self._run(trial, data, run_dir)
        trial.set_user_attr("epochs", len(outcome.get("history", [])))
        trial.set_user_attr("duration_s", round(float(outcome.get("duration_s", 0.0)), 3))
        status = outcome["status"]
        if status == "pruned":
            epoch = outcome.get("epochs")
            trial.set_user_attr("reason", f"pruned after epoch {epoch}")
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")
        if status != "completed":
            self._fail(trial, outcome.get("reason") or status)
        values = [
            h[self.tuning.optimization.metric]
            for h in outcome["history"]
            if self.tuning.optimization.metric in h
        ]
        try:
            return objective_value(
                values, self.tuning.optimization.maximize, self.tuning.optimization.objective
            )
        except Diverged as exc:
            self._fail(trial, str(exc))
        except ValueError:
            logged = sorted({k for h in outcome["history"] for k in h} - {"epoch"})
            self._fail(
                trial,
                f"the run never logged {self.tuning.optimization.metric} (it logged: "
                f"{', '.join(logged) or 'nothing'}); fix optimization.metric",
            )

    def _fail(self, trial: optuna.Trial, reason: str) -> NoReturn:
        trial.set_user_attr("reason", reason[:2000])
        raise TrialFailed(reason)

    def _run(self, trial: optuna.Trial, config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
        return self.run_config(config, run_dir, trial=trial, label=f"trial {trial.number}")

    def run_config(
        self,
        config: dict[str, Any],
        run_dir: Path,
        *,
        trial: optuna.Trial | None = None,
        label: str = "run",
    ) -> dict[str, Any]:
        """Train one config in its own process; its validations go to ``trial``'s pruner."""
        prune = self.tuning.pruning
        spec = {
            "config": config,
            "run_dir": str(run_dir),
            "intermediate_metric": prune.intermediate_metric,
            "report": prune.enabled and trial is not None,
            "study": self.study_name,
            "trial": None if trial is None else trial.number,
            "storage": self.storage,
            "worker": self.worker,
            "env": self.env,
            "threads": self.threads,
            "processes": self.processes,
            "cwd": os.getcwd(),
            "argv": ["trainforge", "tune", label],
        }
        ctx = _context(self.base)
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_entry, args=(spec, child), daemon=False)
        proc.start()
        child.close()
        timeout = self.tuning.optimization.timeout_per_trial
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    _stop(proc, hard=True)
                    return {
                        "status": "timeout",
                        "reason": f"timed out after {timeout:g} s (optimization.timeout_per_trial)",
                    }
                ready = wait([parent, proc.sentinel], timeout=left)
                if parent in ready:
                    try:
                        msg = parent.recv()
                    except EOFError:
                        msg = None
                    if msg is None:
                        pass
                    elif msg[0] == "report":
                        final = int(config["training"]["epochs"])
                        stop = trial is not None and self._should_prune(
                            trial, msg[1], msg[2], final
                        )
                        parent.send("prune" if stop else "go")
                        continue
                    elif msg[0] == "done":
                        proc.join(30)
                        return dict(msg[1])
                if not proc.is_alive() or (parent in ready):
                    proc.join(5)
                    return {"status": "crashed", "reason": _died(proc.exitcode)}
        except BaseException:
            _stop(proc, hard=False)
            raise
        finally:
            parent.close()

    def _should_prune(self, trial: optuna.Trial, epoch: int, value: float, final: int) -> bool:
        prune = self.tuning.pruning
        assert prune.intermediate_mode is not None
        trial.report(
            pruner_value(value, prune.intermediate_mode, self.tuning.optimization.maximize), epoch
        )
        return may_prune(epoch, prune.min_epochs, final) and trial.should_prune()


def _died(exitcode: int | None) -> str:
    if exitcode == EXIT_PEER_LOST:
        return (
            "a rank of this data-parallel trial vanished (exit code 5; its process was killed "
            "or hung past training.heartbeat_timeout_s)"
        )
    return f"the trial's process died (exit code {exitcode})"


def _entry(spec: dict[str, Any], conn: Any) -> None:
    from trainforge.tune.child import run_trial

    run_trial(spec, conn)


def _stop(proc: Any, *, hard: bool) -> None:
    """Stop a trial's process and everything it started (it leads its own session)."""
    if not proc.is_alive():
        proc.join(1)
        return
    if not hard:
        _signal_group(proc.pid, signal.SIGTERM)  # the run writes last.pth and ends
        proc.join(15)
    if proc.is_alive():
        _signal_group(proc.pid, signal.SIGKILL)
        proc.join(10)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
