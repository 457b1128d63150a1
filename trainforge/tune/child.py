"""Inside a trial's own process: one ``trainforge.fit`` run whose validations go to the worker.

The worker process owns the Optuna trial; this process only trains. After each validation it
sends the intermediate metric over a pipe and waits for "go" or "prune", so the study's pruner
decides, and a worker that dies takes its trials with it (the pipe closes).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Imported here so that a forkserver preloading this module has what every run imports
# ready for each trial (torch, the data layer, fit, and torch._dynamo, which building any
# torch optimizer imports: 1-2 s on its own); what only some runs import is chosen from the
# study's base config (preload.py): seconds saved per trial.
import torch._dynamo  # noqa: F401

import trainforge.data  # noqa: F401
from trainforge.train.fit import fit
from trainforge.train.hooks import Hook, RunState
from trainforge.tune import ddp_trial


class _Reporter(Hook):
    def __init__(self, conn: Connection, metric: str, report: bool) -> None:
        self.conn = conn
        self.metric = metric
        self.report = report
        self.history: list[dict[str, float]] = []
        self.pruned = False

    def on_validation(self, state: RunState) -> bool | None:
        metrics = {k: float(v) for k, v in state.metrics.items() if isinstance(v, int | float)}
        metrics["epoch"] = float(state.epoch)
        self.history.append(metrics)
        value = metrics.get(self.metric)
        if not self.report or value is None or not math.isfinite(value):
            return None
        try:
            self.conn.send(("report", state.epoch, value))
            reply = self.conn.recv()
        except (EOFError, OSError):  # the worker is gone: nobody will read this trial
            os._exit(1)
        if reply == "prune":
            self.pruned = True
            return True
        return None


def run_trial(spec: dict[str, Any], conn: Connection) -> None:
    """Entry of a trial process (a multiprocessing target)."""
    _detach()
    for key, value in spec.get("env", {}).items():
        os.environ[key] = value
    processes = int(spec.get("processes") or 1)
    # the trial's share of the cores, split between its ranks
    threads = max(1, int(spec["threads"]) // processes) if spec.get("threads") else None
    if threads:
        import torch

        torch.set_num_threads(threads)
    cwd = spec.get("cwd")
    if cwd and cwd not in sys.path:
        sys.path.insert(0, cwd)  # configs may name the user's own modules, as in the CLI
    # a data-parallel trial: this process is rank 0, the others are forked now (ddp_trial)
    ranks = ddp_trial.start_ranks(spec, processes, threads) if processes > 1 else []
    reporter = _Reporter(conn, spec["intermediate_metric"], spec["report"])
    run_dir = Path(spec["run_dir"])
    started = time.time()
    outcome: dict[str, Any] = {"run_dir": str(run_dir)}
    try:
        result = fit(spec["config"], output=run_dir, hooks=[reporter], argv=spec.get("argv"))
        outcome.update(status="pruned" if reporter.pruned else "completed")
        outcome.update(epochs=result.epochs_completed, stop_reason=result.stop_reason)
    except Exception as exc:  # any failure is this trial's, never the study's
        from trainforge.errors import TrainforgeError
        from trainforge.train.result import TrainingDiverged

        status = "diverged" if isinstance(exc, TrainingDiverged) else "failed"
        reason = str(exc) if isinstance(exc, TrainforgeError) else f"{type(exc).__name__}: {exc}"
        outcome.update(status=status, reason=reason)
    if ranks:
        codes = ddp_trial.finish_ranks(ranks, failed=outcome.get("status") == "failed")
        outcome["rank_exit_codes"] = [0, *codes]
    outcome.update(history=reporter.history, duration_s=time.time() - started)
    _mark_run_folder(run_dir, spec, outcome)
    with contextlib.suppress(OSError, EOFError):
        conn.send(("done", outcome))


def _mark_run_folder(run_dir: Path, spec: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Record the study, trial, host and a pruned verdict in the trial's metadata.json."""
    path = run_dir / "metadata.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the run failed before its folder existed
    if not isinstance(meta, dict):
        return
    meta["tuning"] = {
        "study": spec["study"],
        "trial": spec["trial"],
        "storage": spec["storage"],
        "host": socket.gethostname(),
        "worker": spec.get("worker", 0),
        "state": outcome["status"],
        "pruned": outcome["status"] == "pruned",
    }
    from trainforge._fileio import atomic_write_text

    atomic_write_text(path, json.dumps(meta, indent=2) + "\n")


def _detach() -> None:
    """Own session (a terminal's Ctrl-C goes to the worker, which stops us deliberately), and
    die with the process that forked us (Linux), so no trial outlives its worker."""
    from trainforge.tune._forkserver import die_with_parent

    with contextlib.suppress(OSError):
        os.setsid()
    die_with_parent()
