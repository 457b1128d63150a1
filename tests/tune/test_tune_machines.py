"""Two machines on one PostgreSQL study; one dies mid-trial (SIGKILL) and its trial is failed by
heartbeat and retried by the other with the same parameters."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.trial import TrialState
from tune_helpers import TUNER, env, tuning, user_model_base, write_configs
from tune_postgres import postgres_server


def _machine(tmp_path: Path, url: str, name: str) -> subprocess.Popen[str]:
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [
            sys.executable,
            TUNER,
            "--config",
            "tuning_config.yaml",
            "--storage",
            url,
            "--study_name",
            "shared",
            "--output",
            f"results_{name}",
        ],
        cwd=tmp_path,
        env=env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_killed_machine_trial_is_retried_by_the_other(tmp_path: Path) -> None:
    base = user_model_base(tmp_path, epochs=2)
    space = {
        "model.kwargs.mode": {"type": "categorical", "choices": ["slow"]},
        "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-1},
    }
    cfg = tuning(space, n_trials=3, parallel={"heartbeat_interval": 1, "grace_period": 4})
    write_configs(tmp_path, cfg, base)
    machines: list[subprocess.Popen[str]] = []
    with postgres_server() as url:
        try:
            _run_two_machines(tmp_path, url, machines)
        finally:
            for proc in machines:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)


def _run_two_machines(tmp_path: Path, url: str, machines: list[subprocess.Popen[str]]) -> None:
    doomed = _machine(tmp_path, url, "a")
    machines.append(doomed)
    step_log = tmp_path / "results_a" / "trials"
    deadline = time.monotonic() + 120
    started = []
    while time.monotonic() < deadline and not started:
        started = [
            p for p in step_log.glob("trial_*/logs/metrics.json") if '"step"' in p.read_text()
        ]
        time.sleep(0.2)
    assert started, (tmp_path / "a.log").read_text()[-3000:]
    survivor = _machine(tmp_path, url, "b")
    machines.append(survivor)
    descendants = psutil.Process(doomed.pid).children(recursive=True)
    doomed.send_signal(signal.SIGKILL)  # the machine disappears mid-trial
    doomed.wait(10)
    _, alive = psutil.wait_procs(descendants, timeout=20)
    assert not alive, f"processes of the dead machine live on: {alive}"
    assert survivor.wait(300) == 0, (tmp_path / "b.log").read_text()[-3000:]

    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.trials
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1  # the killed one, failed by its missing heartbeat
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == failed[0].params
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 3
    workers = {
        Path(t.user_attrs["run_dir"]).parts[0] for t in trials if t.state == TrialState.COMPLETE
    }
    assert "results_b" in workers
    meta = json.loads((tmp_path / retry[0].user_attrs["run_dir"] / "metadata.json").read_text())
    assert meta["tuning"]["host"] and meta["tuning"]["storage"] == url
