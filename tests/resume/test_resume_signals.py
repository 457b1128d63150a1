"""Preemption: SIGTERM/SIGINT/SIGUSR1 finish the step, save last.pth and stop; a second
SIGINT aborts at once."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
from resume_testing import DIGITS_STEPS, assert_same_history, child_env, config, write_config

import trainforge
from trainforge.checkpoint.format import load_checkpoint
from trainforge.train.signals import StopSignals
from trainforge.verify import launch, train_command, wait_for_step


@pytest.mark.slow
def test_sigterm_saves_last_even_when_off_stops_and_resumes_exactly(tmp_path: Path) -> None:
    cfg = config(
        checkpointing={"save_last": False, "save_every_n_steps": None, "save_every_n_epochs": 1}
    )
    path = write_config(tmp_path / "digits.yaml", cfg)
    run = tmp_path / "run"
    child = launch(train_command(path, run), tmp_path / "run.log", child_env())
    target = random.Random(2).randrange(5, DIGITS_STEPS - 5)
    assert wait_for_step(child, run / "logs" / "metrics.json", target, timeout=120)
    child.kill(signal.SIGTERM)
    assert child.wait(60) == 128 + signal.SIGTERM  # 143, the documented code
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["stop_reason"] == "signal:SIGTERM"
    assert meta["exit_code"] == 143
    stopped = load_checkpoint(run / "checkpoints" / "last.pth")["trainer"]
    assert stopped["global_step"] >= target
    resumed = trainforge.fit(path, resume="auto", output=run)
    assert resumed.status == "completed"
    reference = trainforge.fit(path, output=tmp_path / "reference")
    a = load_checkpoint(run / "checkpoints" / "epoch_003.pth")["model"]
    b = load_checkpoint(reference.run_dir / "checkpoints" / "epoch_003.pth")["model"]
    assert all((a[k] == b[k]).all() for k in a)
    # the SIGTERM adds one save of last.pth that the uninterrupted run does not make
    assert_same_history(reference.run_dir, run, ignore=frozenset({"checkpoint"}))


SLOW_MODEL = '''
import os
import time
from pathlib import Path
from torch import nn

class SlowNet(nn.Module):
    """Slow steps; once the HOLD file exists a step lasts 60 s, so the second signal always
    lands inside the step the first one is waiting for, however loaded the machine is."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    def forward(self, x):
        time.sleep(0.25)
        if Path(os.environ["HOLD"]).exists():
            time.sleep(60)
        return self.fc(x)
'''


@pytest.mark.slow
def test_a_second_sigint_aborts_at_once(tmp_path: Path) -> None:
    (tmp_path / "slow_model.py").write_text(SLOW_MODEL)
    cfg = config(model={"architecture": "slow_model:SlowNet", "channels": None, "dropout": 0.0})
    del cfg["model"]["channels"]
    path = write_config(tmp_path / "slow.yaml", cfg)
    run = tmp_path / "run"
    hold = tmp_path / "hold"
    env = {**child_env(), "PYTHONPATH": str(tmp_path), "HOLD": str(hold)}
    child = launch(train_command(path, run), tmp_path / "run.log", env)
    assert wait_for_step(child, run / "logs" / "metrics.json", 1, timeout=120)
    hold.touch()  # the step in progress (or the next) now outlasts the test's second signal
    child.kill(signal.SIGINT)
    # Two SIGINTs pending at once are one to the kernel: send the second once the run has
    # said it took the first (a loaded machine may not run the child between two kills).
    deadline = time.monotonic() + 60
    while "SIGINT received" not in child.log_path.read_text():
        assert time.monotonic() < deadline, child.log_path.read_text()[-2000:]
        time.sleep(0.02)
    child.kill(signal.SIGINT)
    sent = time.monotonic()
    assert child.wait(60) == 130
    assert time.monotonic() - sent < 30  # well inside the held step's 60 s
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["error"] == "aborted by a second SIGINT"
    assert "Traceback" not in child.log_path.read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
def test_stop_signals_set_a_flag_and_a_second_sigint_raises(signum: int) -> None:
    with StopSignals() as signals:
        os.kill(os.getpid(), signum)
        assert signals.received == signal.Signals(signum).name and signals.signum == signum
        if signum == signal.SIGINT:
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) != signals._handle  # restored
