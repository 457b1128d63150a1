"""A launcher killed with SIGKILL leaves no process behind: its workers get a parent-death
SIGTERM, save, and exit; on a multi-node run the other node's ranks stop at the same step."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
from ddp_helpers import free_port, start, wait_for_step, write_config


def _descendants(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still alive after ``timeout`` seconds (none, when all is well)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _stopped_by_sigterm(run_dir: Path) -> None:
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["stop_reason"] == "signal:SIGTERM", meta
    assert (run_dir / "checkpoints" / "last.pth").exists()


def test_sigkilled_launcher_leaves_no_worker(tmp_path: Path) -> None:
    write_config(tmp_path, epochs=50, batch_size=16)
    launcher = start(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    try:
        wait_for_step(tmp_path / "run", [launcher])
        workers = _descendants(launcher)
        assert len([p for p in workers if "python" in p.name().lower()]) >= 2
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        alive = _gone(workers, timeout=60)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
    finally:
        for p in psutil.Process().children(recursive=True):
            p.kill()
    _stopped_by_sigterm(tmp_path / "run")


def test_sigkilled_launcher_on_one_node_stops_the_other_node(tmp_path: Path) -> None:
    """Two launchers of one 2-node run (one process each) stand in for two machines."""
    write_config(tmp_path, epochs=50, batch_size=16)
    port = str(free_port())
    nodes = [
        start(
            tmp_path,
            *("--distributed", "--n_gpus", "1", "--nnodes", "2", "--node_rank", str(rank)),
            *("--master_addr", "127.0.0.1", "--master_port", port, "--output", "run"),
            log=f"node{rank}.out",
        )
        for rank in (0, 1)
    ]
    try:
        wait_for_step(tmp_path / "run", nodes)
        everything = [psutil.Process(n.pid) for n in nodes]
        everything += [p for n in nodes for p in _descendants(n)]
        started = time.monotonic()
        nodes[1].send_signal(signal.SIGKILL)
        # node 0's launcher ends by itself, with its worker's code: stopped by SIGTERM
        assert nodes[0].wait(90) == 143, (tmp_path / "node0.out").read_text()
        alive = _gone(everything, timeout=30)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert time.monotonic() - started < 90
    finally:
        for p in psutil.Process().children(recursive=True):
            p.kill()
    _stopped_by_sigterm(tmp_path / "run")
