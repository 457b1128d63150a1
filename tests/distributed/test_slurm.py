"""Runs started by SLURM's ``srun`` (one task per process, SLURM_* variables, no torchrun):
detected as a data-parallel run; SIGUSR1 before the time limit saves and exits with 138, and
the requeued job's ``--resume auto`` continues."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from ddp_helpers import records, start, wait_for_step, write_config

from trainforge.train.distributed import SLURM_PORT_BASE, slurm_env


def _srun_env(rank: int, job_id: int) -> dict[str, str]:
    """What ``srun --ntasks 2`` gives task ``rank`` on one node (less what we do not read)."""
    return {
        "SLURM_JOB_ID": str(job_id),
        "SLURM_STEP_ID": "0",
        "SLURM_NTASKS": "2",
        "SLURM_PROCID": str(rank),
        "SLURM_LOCALID": str(rank),
        "SLURM_NODEID": "0",
        "SLURM_LAUNCH_NODE_IPADDR": "127.0.0.1",
        "OMP_NUM_THREADS": "1",
    }


def _job_id_with_free_port() -> int:
    """A job id whose derived MASTER_PORT is free here now."""
    for _ in range(100):
        job = random.randrange(1, 20000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", SLURM_PORT_BASE + job))
            except OSError:
                continue
            return job
    raise AssertionError("no free port in the SLURM port range")


def _srun(tmp_path: Path, job: int, *flags: str) -> list[subprocess.Popen[str]]:
    return [
        start(tmp_path, *flags, log=f"task{rank}.out", extra_env=_srun_env(rank, job))
        for rank in (0, 1)
    ]


def test_srun_tasks_train_together_and_sigusr1_saves_for_requeue(tmp_path: Path) -> None:
    write_config(tmp_path, epochs=50, batch_size=16)
    job = _job_id_with_free_port()
    tasks = _srun(tmp_path, job, "--output", "run")
    try:
        wait_for_step(tmp_path / "run", tasks, step=2)
        tasks[1].send_signal(signal.SIGUSR1)  # one rank's signal stops both at the same step
        codes = [t.wait(120) for t in tasks]
    finally:
        for t in tasks:
            t.kill()
    log = (tmp_path / "task0.out").read_text()
    assert codes == [138, 138], log + (tmp_path / "task1.out").read_text()
    assert "Traceback" not in log
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo"
    assert meta["status"] == "stopped" and meta["stop_reason"] == "signal:SIGUSR1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.yaml",
        "run",
        "task0.out",
        "task1.out",
    ]  # rank 1 wrote nothing
    stopped_at = meta["global_step"]

    # the requeued job: the same command with --resume auto continues from last.pth
    tasks = _srun(
        tmp_path,
        job,
        "--output",
        "run",
        "--resume",
        "auto",
        "--set",
        f"training.max_steps={stopped_at + 2}",
    )
    try:
        codes = [t.wait(180) for t in tasks]
    finally:
        for t in tasks:
            t.kill()
    assert codes == [0, 0], (tmp_path / "task0.out").read_text()
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["global_step"] == stopped_at + 2
    assert any(r.get("event") == "resume" for r in records(tmp_path / "run"))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {},
            {
                "WORLD_SIZE": "4",
                "RANK": "3",
                "LOCAL_RANK": "1",
                "GROUP_RANK": "1",
                "MASTER_ADDR": "10.0.0.7",
                "MASTER_PORT": str(SLURM_PORT_BASE + 1234),
            },
        ),
        (
            {"MASTER_ADDR": "node01", "MASTER_PORT": "29500"},
            {"MASTER_ADDR": "node01", "MASTER_PORT": "29500"},
        ),
        ({"WORLD_SIZE": "8"}, None),  # torchrun inside an allocation: its variables win
    ],
)
def test_slurm_variables_become_torchrun_ones(
    extra: dict[str, str], expected: dict[str, str] | None
) -> None:
    environ = {
        "SLURM_JOB_ID": "41234",
        "SLURM_STEP_ID": "0",
        "SLURM_NTASKS": "4",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_NODEID": "1",
        "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.7",
        **extra,
    }
    got = slurm_env(environ)
    if expected is None:
        assert got == {}
    else:
        assert expected.items() <= got.items()


def test_a_batch_script_or_a_one_task_step_is_an_ordinary_run() -> None:
    batch_step = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_PROCID": "0"}
    assert slurm_env(batch_step) == {}  # no SLURM_STEP_ID: not inside srun
    assert slurm_env({**batch_step, "SLURM_STEP_ID": "0", "SLURM_NTASKS": "1"}) == {}
