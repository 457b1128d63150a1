"""Trials that are themselves data-parallel runs (parallel.processes_per_trial: 2, gloo on
CPU): a real grid search on digits where the hopeless trials are pruned. Rank 0 alone reports
to the pruner and gives the trial its value, a pruned trial stops all its ranks, and nothing is
left running (the search runs in a process that adopts orphans, so a leftover rank would show)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState
from tune_helpers import BASE, env, tuning

from trainforge.tune.ddp_trial import trial_processes, trial_processes_note

DRIVER = """
import ctypes, json, multiprocessing.forkserver as fs, multiprocessing.resource_tracker as rt
import sys, yaml, psutil
from pathlib import Path

from trainforge.config import load_config
from trainforge.config.tuning import TuneConfig
from trainforge.tune import Plan, run_search

PR_SET_CHILD_SUBREAPER = 36


def main() -> None:
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans become our children
    here = Path(sys.argv[1])
    tuning = TuneConfig.model_validate(yaml.safe_load((here / "tuning.yaml").read_text()))
    base = load_config(yaml.safe_load((here / "base.yaml").read_text()))
    plan = Plan(tuning=tuning, base=base, output=here / "out", study_name="ddp",
                storage=f"sqlite:///{here}/studies.db", n_trials=tuning.optimization.n_trials,
                n_jobs=1, gpus=[], threads=None)
    run_search(plan)
    keep = {fs._forkserver._forkserver_pid, rt._resource_tracker._pid}
    left = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in keep and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print(json.dumps({"left": [p.cmdline() for p in left]}))


if __name__ == "__main__":
    main()
"""


def _search_leaving_nothing(
    folder: Path, cfg: dict[str, Any], base: dict[str, Any]
) -> optuna.Study:
    """Run the search in a process that adopts orphans; fail if any process is left."""
    (folder / "tuning.yaml").write_text(yaml.safe_dump(cfg))
    (folder / "base.yaml").write_text(yaml.safe_dump(base))
    (folder / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [sys.executable, str(folder / "driver.py"), str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"left": []}, done.stdout
    return optuna.load_study(study_name="ddp", storage=f"sqlite:///{folder}/studies.db")


def _validations(run_dir: Path) -> list[dict[str, float]]:
    lines = (run_dir / "logs" / "metrics.json").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r["metrics"] for r in records if r.get("type") == "validation"]


def test_each_trial_runs_as_two_gloo_processes_and_pruning_stops_them_all(
    tmp_path: Path,
) -> None:
    space = {  # grid order: two good learning rates first, then two hopeless ones
        "learning_rate": {"type": "categorical", "choices": [0.05, 1e-7]},
        "hidden_sizes": {"type": "categorical", "choices": [[16], [8]]},
    }
    cfg = tuning(
        space,
        n_trials=4,
        method="grid",
        pruning={"enabled": True, "pruner": "successive_halving", "min_epochs": 1},
        parallel={"processes_per_trial": 2},
    )
    cfg["pruning"]["intermediate_metric"] = "val_loss"
    base = {**BASE, "training": {"epochs": 3, "learning_rate": 0.01, "heartbeat_timeout_s": 20}}
    study = _search_leaving_nothing(tmp_path, cfg, base)
    trials = study.trials
    assert len(trials) == 4
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}, [
        (t.state, t.user_attrs) for t in trials
    ]
    for t in trials:
        run_dir = Path(t.user_attrs["run_dir"])
        meta = json.loads((run_dir / "metadata.json").read_text())
        assert meta["world_size"] == 2 and meta["backend"] == "gloo", meta
        assert meta["tuning"]["pruned"] == (t.state == TrialState.PRUNED)
        validations = _validations(run_dir)
        # one report per validation, from rank 0 (the only rank with the pipe to the worker)
        assert len(t.intermediate_values) == len(validations) == meta["epochs_completed"]
        assert sorted(-v for v in t.intermediate_values.values()) == sorted(
            m["val_loss"] for m in validations
        )
        if t.state == TrialState.PRUNED:
            assert meta["stop_reason"] == "hook" and meta["epochs_completed"] < 3
        else:
            assert t.value == max(m["val_accuracy"] for m in validations)
    best = study.best_trial
    assert best.params["learning_rate"] == 0.05
    assert study.best_value == max(
        m["val_accuracy"] for m in _validations(Path(best.user_attrs["run_dir"]))
    )


def test_how_many_processes_a_trial_gets() -> None:
    assert trial_processes(None, 1, []) == 1
    assert trial_processes(2, 1, []) == 2  # CPU: processes_per_trial
    assert trial_processes(None, 2, ["0", "1", "2", "3"]) == 2  # GPUs: one per GPU
    assert trial_processes(4, 2, ["0", "1"]) == 2
    assert trial_processes_note(1, False) is None
    note = trial_processes_note(2, False)
    assert note is not None and "2 processes" in note and "gloo" in note


# A user model whose rank 1 dies (SIGKILL, as with its machine) in its third training step
# when the trial's parameter says so.
DYING_MODEL = """
import os
import signal

from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, mode: str = "ok"):
        super().__init__()
        self.mode = mode
        self.fc = nn.Linear(64 * in_channels, num_classes)
        self.calls = 0

    def forward(self, x):
        if self.training and self.mode == "die" and os.environ.get("RANK") == "1":
            self.calls += 1
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.fc(x.flatten(1))
"""


def test_a_trial_whose_rank_dies_fails_with_the_reason_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "dying_model.py").write_text(DYING_MODEL)
    space = {"model.kwargs.mode": {"type": "categorical", "choices": ["ok", "die"]}}
    cfg = tuning(space, n_trials=2, method="grid", parallel={"processes_per_trial": 2})
    base = {
        **BASE,
        "model": {"architecture": "dying_model:Net"},
        "training": {"epochs": 2, "learning_rate": 0.01, "heartbeat_timeout_s": 20},
    }
    trials = {
        t.params["model.kwargs.mode"]: t
        for t in _search_leaving_nothing(tmp_path, cfg, base).trials
    }
    assert trials["ok"].state == TrialState.COMPLETE
    died = trials["die"]
    assert died.state == TrialState.FAIL
    assert "vanished" in died.user_attrs["reason"], died.user_attrs
    meta = json.loads((Path(died.user_attrs["run_dir"]) / "metadata.json").read_text())
    assert meta["stop_reason"] == "peer_lost" and meta["global_step"] == 2, meta
    assert (Path(died.user_attrs["run_dir"]) / "checkpoints" / "last.pth").exists()
