"""``trainforge train --distributed --n_gpus N``: start N training workers on this node.

Each worker re-runs the same ``train`` command line without the launcher's flags, with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set, exactly what
torchrun would give it; ``trainforge.train.distributed`` takes over from there.

Why ``torch.multiprocessing.spawn`` and not ``torch.distributed.run.main``: torchrun's elastic
agent brings restarts and rendezvous backends we do not use, and owns the parts a user sees:
it prints multi-line failure reports per rank, handles SIGTERM with its own timeouts, and maps
exit codes its own way. ``spawn(join=False)`` hands us the processes, so this module decides
those: signals are forwarded once, a worker's one-line error is printed once, and the exit
code is the workers' own (0, 128+signal, 2 for a config error).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

from trainforge.cli.common import fail
from trainforge.cli.main import main
from trainforge.errors import UsageError
from trainforge.train.result import EXIT_PEER_LOST

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
# Flags that only the launcher reads (both spellings); workers get the rest of the line.
_BARE = {"--distributed"}
_VALUED = {
    f"--{v}"
    for name in ("n_gpus", "nnodes", "node_rank", "master_addr", "master_port")
    for v in (name, name.replace("_", "-"))
}
# After one worker fails, the others get this long to finish failing (a config error reaches
# every rank at once) before they are terminated, then this long before SIGKILL.
FAIL_GRACE_S = 5.0
KILL_GRACE_S = 20.0
# A worker whose launcher died gets this long to save and exit before its watchdog kills it.
ORPHAN_GRACE_S = 60.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def worker_argv(argv: list[str]) -> list[str]:
    """``argv`` without the launcher's flags (``--n_gpus 2`` and ``--n_gpus=2`` forms)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if arg in _BARE:
            continue
        if name in _VALUED:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def launch(args: argparse.Namespace, argv: list[str]) -> int:
    """Run ``argv`` (the full ``train ...`` command line) in ``--n_gpus`` workers; returns the
    exit code for the whole run."""
    import torch
    import torch.multiprocessing as mp

    from trainforge.train.distributed import free_port

    nproc, nnodes, node_rank = _check_topology(args)
    device = (args.device or "auto").lower()
    use_cuda = torch.cuda.is_available() and not device.startswith("cpu")
    if use_cuda:
        have = torch.cuda.device_count()
        if have < nproc:
            raise UsageError(
                f"--n_gpus {nproc} asked for but this machine has {have} GPU(s); "
                f"pass --n_gpus {have} or fewer"
            )
    else:
        print(f"no GPU: running {nproc} CPU processes with gloo", file=sys.stderr, flush=True)
    port = args.master_port if args.master_port is not None else free_port()
    env = {
        "MASTER_ADDR": args.master_addr or "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": str(nproc * nnodes),
        "LOCAL_WORLD_SIZE": str(nproc),
        "GROUP_RANK": str(node_rank),
        "TRAINFORGE_LAUNCHER_PID": str(os.getpid()),
    }
    # N CPU workers on C cores: C // N threads each, or they slow each other down (the
    # same reason torchrun sets OMP_NUM_THREADS); a user's own setting wins.
    threads = 0 if use_cuda or "OMP_NUM_THREADS" in os.environ else _threads_per(nproc)
    errors = mp.get_context("spawn").SimpleQueue()
    context = mp.spawn(
        _worker,
        args=(worker_argv(argv), env, node_rank * nproc, threads, errors),
        nprocs=nproc,
        join=False,
    )
    assert context is not None  # join=False always returns the context
    code = _supervise(context.processes)
    reports: list[tuple[int, str, int]] = []
    while not errors.empty():
        reports.append(errors.get())
    if not reports:
        return code
    # A config error reaches every rank: the lowest rank that reported one speaks, once, and
    # its code is the run's (a sibling stopped meanwhile by the launcher or torch must not
    # turn a user's mistake into a crash's exit code).
    first = min(rank for rank, _, _ in reports)
    for message in dict.fromkeys(m for rank, m, _ in reports if rank == first):
        fail(message)
    return next(c for rank, _, c in reports if rank == first)


def _check_topology(args: argparse.Namespace) -> tuple[int, int, int]:
    nproc = args.n_gpus
    if nproc is None:
        import torch

        nproc = torch.cuda.device_count()
        if nproc == 0:
            raise UsageError("--distributed needs --n_gpus N here (no GPU to count)")
    if nproc < 1:
        raise UsageError(f"--n_gpus {nproc}: give 1 or more processes")
    nnodes = args.nnodes or 1
    node_rank = args.node_rank or 0
    if nnodes < 1 or not 0 <= node_rank < nnodes:
        raise UsageError(f"--node_rank {node_rank} must be in 0..{nnodes - 1} (--nnodes {nnodes})")
    if nnodes > 1 and (args.master_addr is None or args.master_port is None):
        raise UsageError(
            "--nnodes > 1 needs --master_addr HOST --master_port PORT (node 0's address), "
            "the same on every node"
        )
    return nproc, nnodes, node_rank


def _threads_per(nproc: int) -> int:
    return max(1, (os.cpu_count() or 1) // nproc)


def _supervise(processes: list[Any]) -> int:
    """Wait for the workers, forwarding signals; returns the exit code of the first worker
    that failed (0 when all succeeded)."""

    def forward(signum: int, frame: FrameType | None) -> None:
        _signal_alive(processes, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    first_failure: int | None = None
    terminate_at = kill_at = float("inf")
    try:
        while True:
            # Read the exit codes once per pass: a worker that ends between the check below and
            # the loop's test would otherwise end the loop with its failure unseen (exit 0).
            running = [p for p in processes if p.exitcode is None]
            for p in processes:
                if p.exitcode not in (None, 0) and first_failure is None:
                    first_failure = _exit_code(p.exitcode)
                    # a rank that saw a peer vanish has already had the others stop: no grace
                    grace = 0.0 if p.exitcode == EXIT_PEER_LOST else FAIL_GRACE_S
                    terminate_at = time.monotonic() + grace
            if not running:
                break
            wait([p.sentinel for p in running], timeout=0.5)
            now = time.monotonic()
            if now >= terminate_at:
                # the rest may be blocked in a collective with the failed rank: stop them (a
                # stopped process would hold a SIGTERM until continued: it is killed)
                _signal_alive(processes, signal.SIGTERM, stopped=signal.SIGKILL)
                terminate_at, kill_at = float("inf"), now + KILL_GRACE_S
            if now >= kill_at:
                _signal_alive(processes, signal.SIGKILL)
                kill_at = float("inf")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A rank that saw a peer vanish says so with its own code (resume with --resume auto):
    # more useful to a job script than the vanished rank's own death by a signal.
    if any(p.exitcode == EXIT_PEER_LOST for p in processes):
        return EXIT_PEER_LOST
    return first_failure or 0


def _signal_alive(processes: list[Any], signum: int, stopped: int | None = None) -> None:
    for p in processes:
        if p.exitcode is None and p.pid is not None:
            sig = stopped if stopped is not None and _is_stopped(p.pid) else signum
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                os.kill(p.pid, sig)


def _is_stopped(pid: int) -> bool:
    """A process in the stopped state (SIGSTOP, a debugger): Linux's /proc says so."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def _exit_code(exitcode: int) -> int:
    """multiprocessing reports death by signal N as -N; a shell says 128+N."""
    return 128 - exitcode if exitcode < 0 else exitcode


def _worker(
    local_rank: int,
    argv: list[str],
    env: dict[str, str],
    rank_offset: int,
    threads: int,
    errors: Any,
) -> None:
    """One worker: the ordinary ``train`` command with a rank in its environment."""
    # Its own process group: a terminal's Ctrl-C reaches only the launcher, which forwards it
    # once (a second SIGINT would abort the worker without saving).
    os.setpgrp()
    die_with_parent(int(env["TRAINFORGE_LAUNCHER_PID"]))
    os.environ.update(env)
    os.environ["LOCAL_RANK"] = str(local_rank)
    os.environ["RANK"] = str(rank_offset + local_rank)
    if threads:
        import torch

        torch.set_num_threads(threads)

    def report(message: str, code: int) -> int:
        errors.put((int(os.environ["RANK"]), message, code))  # the launcher prints it once
        return code

    try:
        code = main(argv[1:], prog=argv[0], on_error=report)
    except Exception:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.exit(code)


def die_with_parent(launcher_pid: int) -> None:
    """SIGTERM this worker when the launcher dies, however it dies (see the module notes).

    torch's spawn already sets a parent-death SIGINT before calling us; SIGTERM replaces it
    because a second SIGINT aborts a run without saving. Outside Linux, only the watchdog.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            print("warning: PR_SET_PDEATHSIG failed; relying on the watchdog", file=sys.stderr)
    watchdog = threading.Thread(
        target=_watch_launcher, args=(launcher_pid,), name="launcher-watchdog", daemon=True
    )
    watchdog.start()
    if os.getppid() != launcher_pid:  # it died before the request above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_launcher(launcher_pid: int, poll_s: float = 1.0) -> None:
    """Once the launcher is gone: SIGTERM (if the parent-death signal did not come), then
    SIGKILL after ``ORPHAN_GRACE_S`` if this worker is still alive."""
    while os.getppid() == launcher_pid:
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_S)
    os.kill(os.getpid(), signal.SIGKILL)
