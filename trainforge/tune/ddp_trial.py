"""A trial that is itself a data-parallel run: ``parallel.processes_per_trial`` (or
``gpu_per_trial`` GPUs) processes training one model, exactly as ``trainforge train
--distributed`` does.

The trial's own process is rank 0: it keeps the pipe to the worker, so the pruner hears from
rank 0 only, and its run folder and history are the trial's. Ranks 1..N-1 are forked from it
before anything starts a thread (the trial process comes from a forkserver that imported torch
once, so a rank starts in milliseconds), with the same rendezvous variables a launcher sets and
a port of their own per trial. A pruned trial needs nothing more: rank 0's hook asks to stop,
and the ranks already agree on every stop after each validation, so all of them stop after the
same epoch. Every rank dies with rank 0's process (Linux parent-death signal), and the worker's
``killpg`` of the trial reaches them all (they share its process group).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from typing import Any

# After rank 0 is done, the other ranks get this long to finish (they leave through the same
# barrier); after a failure of rank 0, this long before they are stopped.
FINISH_S = 60.0
AFTER_FAILURE_S = 5.0


def trial_processes(processes_per_trial: int | None, gpu_per_trial: int, gpus: list[str]) -> int:
    """Processes one trial trains in: one per GPU with GPUs, else ``processes_per_trial``."""
    if gpus and gpu_per_trial > 0:
        return gpu_per_trial
    return processes_per_trial or 1


def trial_processes_note(processes: int, gpus: bool) -> str | None:
    """The line the tuner prints when its trials are distributed runs."""
    if processes <= 1:
        return None
    how = "one per GPU (nccl)" if gpus else "gloo on CPU"
    return f"each trial is a data-parallel run in {processes} processes ({how})"


def start_ranks(spec: dict[str, Any], processes: int, threads: int | None) -> list[Any]:
    """Set rank 0's rendezvous variables here and fork ranks 1..processes-1."""
    from trainforge.train.distributed import free_port  # torch: only in a trial's process

    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(free_port()),
            "WORLD_SIZE": str(processes),
            "LOCAL_WORLD_SIZE": str(processes),
            "GROUP_RANK": "0",
            "RANK": "0",
            "LOCAL_RANK": "0",
        }
    )
    ctx = mp.get_context("fork")
    ranks = []
    for rank in range(1, processes):
        proc = ctx.Process(target=_rank, args=(spec, rank, threads), name=f"trial-rank-{rank}")
        proc.start()
        ranks.append(proc)
    return ranks


def finish_ranks(ranks: list[Any], *, failed: bool) -> list[int]:
    """Wait for ranks 1..N-1 (stopping them after rank 0 failed); returns their exit codes."""
    for proc in ranks:
        proc.join(AFTER_FAILURE_S if failed else FINISH_S)
    for proc in ranks:
        if proc.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)  # a run saves and stops on SIGTERM
            proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    return [int(proc.exitcode or 0) for proc in ranks]


def _rank(spec: dict[str, Any], rank: int, threads: int | None) -> None:
    """Rank 1..N-1 of a trial: the same run as rank 0, silent, with no hook."""
    from trainforge.tune._forkserver import die_with_parent

    die_with_parent()  # rank 0's process ends: so does this one
    os.environ["RANK"] = os.environ["LOCAL_RANK"] = str(rank)
    if threads:
        import torch

        torch.set_num_threads(threads)
    from pathlib import Path

    from trainforge.train.fit import fit

    try:
        fit(spec["config"], output=Path(spec["run_dir"]), argv=spec.get("argv"))
    except BaseException:  # rank 0 reports the trial's failure; this rank only ends
        os._exit(1)
    os._exit(0)
