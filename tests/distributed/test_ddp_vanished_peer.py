"""A rank that vanishes mid-run (its process killed, or stopped as a hung machine would be) is
noticed through the heartbeat within training.heartbeat_timeout_s, not torch's collective
timeout: the survivors stop with exit code 5 and one line naming the rank and the fix, rank 0
saves last.pth from the last consistent point, nothing is left running, and the run resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import torch
from ddp_helpers import records, run, start, wait_for_step, write_config

HEARTBEAT = """\
  heartbeat_timeout_s: 4
  distributed_timeout_s: 300
"""


# A model with BatchNorm (its statistics move in the forward, before the gradient all-reduce)
# whose rank STOP_RANK stops itself in the forward of training step STOP_AT when the variables
# are set: a peer that hangs mid-step, at a known point, rather than wherever a signal lands.
MODEL = """
import os
import signal

from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * in_channels, 32), nn.BatchNorm1d(32), nn.ReLU(),
            nn.Linear(32, num_classes),
        )
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if os.environ.get("RANK") == os.environ.get("STOP_RANK") and str(self.calls) == (
                os.environ.get("STOP_AT")
            ):
                os.kill(os.getpid(), signal.SIGSTOP)
        return self.body(x)
"""


def _config(folder: Path, epochs: int) -> None:
    write_config(folder, epochs=epochs, batch_size=16)
    text = (folder / "c.yaml").read_text()
    (folder / "c.yaml").write_text(text.replace("training:\n", "training:\n" + HEARTBEAT, 1))


def _workers(launcher: subprocess.Popen[str]) -> list[psutil.Process]:
    """The launcher's training workers in rank order (spawned one after the other)."""
    procs = [
        p for p in psutil.Process(launcher.pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]
    assert len(procs) == 2, [p.cmdline() for p in procs]
    return sorted(procs, key=lambda p: (p.create_time(), p.pid))


def _left_behind(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _vanish(
    tmp_path: Path, victim: int, how: signal.Signals | None, env: dict[str, str] | None = None
) -> tuple[str, float]:
    """Start a 2-rank run, make rank ``victim`` vanish after a few steps (``how``; None: it
    stops itself, see MODEL); returns the launcher's one error line and how long it took to
    end after the rank vanished."""
    launcher = start(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run", extra_env=env)
    try:
        wait_for_step(tmp_path / "run", [launcher], step=3)
        everything = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children()]
        workers = _workers(launcher)
        if how is None:
            while workers[victim].status() != psutil.STATUS_STOPPED:
                assert launcher.poll() is None
                time.sleep(0.05)
        started = time.monotonic()
        if how is not None:
            workers[victim].send_signal(how)
        code = launcher.wait(120)
        took = time.monotonic() - started
        left = _left_behind(everything, timeout=30)
        assert not left, [(p.pid, p.cmdline()) for p in left]
    finally:
        for p in psutil.Process().children(recursive=True):
            p.kill()
    out = (tmp_path / "run.out").read_text()
    assert code == 5, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("trainforge: error:")]
    assert len(errors) == 1, out
    assert f"rank {victim} " in errors[0] and "--resume auto" in errors[0], errors
    return errors[0], took


def _metadata(run_dir: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((run_dir / "metadata.json").read_text())
    return meta


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(path, weights_only=True)["model"]
    return state


@pytest.mark.slow
def test_a_rank_hung_mid_step_is_noticed_by_heartbeat_and_the_run_resumes_exactly(
    tmp_path: Path,
) -> None:
    (tmp_path / "vanish_model.py").write_text(MODEL)
    _config(tmp_path, epochs=2)
    text = (tmp_path / "c.yaml").read_text().replace("simple_cnn", '"vanish_model:Net"')
    (tmp_path / "c.yaml").write_text(text.replace("  channels: [8, 16]\n", ""))
    # rank 1 hangs in the forward of step 7: rank 0 has done its forward (BatchNorm moved) and
    # waits in the gradient all-reduce; it must save the state from before that forward
    line, took = _vanish(tmp_path, 1, None, {"STOP_RANK": "1", "STOP_AT": "7"})
    # the heartbeat (4 s), not the collective timeout (300 s); + the launcher's 5 s grace
    assert took < 60, took
    assert "stopped responding" in line and "heartbeat_timeout_s" in line, line
    assert "rank 0 saved" in line, line
    meta = _metadata(tmp_path / "run")
    assert meta["status"] == "failed" and meta["stop_reason"] == "peer_lost", meta
    assert meta["exit_code"] == 5
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pth", weights_only=True)
    assert saved["trainer"]["global_step"] == 6 and "(step 6)" in line, line
    assert any(r.get("event") == "peer_lost" for r in records(tmp_path / "run"))

    resumed = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run", "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    a = _weights(tmp_path / "run" / "checkpoints" / "last.pth")
    b = _weights(tmp_path / "whole" / "checkpoints" / "last.pth")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"


@pytest.mark.slow
def test_a_killed_rank_is_noticed_at_once_and_rank_0_saves(tmp_path: Path) -> None:
    _config(tmp_path, epochs=50)
    line, took = _vanish(tmp_path, victim=1, how=signal.SIGKILL)
    assert took < 40, took
    assert "died" in line, line
    meta = _metadata(tmp_path / "run")
    assert meta["stop_reason"] == "peer_lost", meta
    assert (tmp_path / "run" / "checkpoints" / "last.pth").exists()


@pytest.mark.slow
def test_a_killed_rank_0_stops_the_others_with_its_name(tmp_path: Path) -> None:
    _config(tmp_path, epochs=50)
    line, took = _vanish(tmp_path, victim=0, how=signal.SIGKILL)
    assert took < 40, took
    assert "rank 0" in line and "saved" not in line, line


@pytest.mark.slow
def test_a_stopped_rank_is_noticed_by_heartbeat(tmp_path: Path) -> None:
    _config(tmp_path, epochs=50)
    line, took = _vanish(tmp_path, victim=1, how=signal.SIGSTOP)
    assert took < 60, took
    assert "stopped responding" in line, line
    assert (tmp_path / "run" / "checkpoints" / "last.pth").exists()
