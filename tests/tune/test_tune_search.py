"""Each search method and pruner, conditional parameters, and the trials that go wrong: real
searches on digits through the Python API, each trial a real run in its own process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState
from tune_helpers import BASE, search, tuning, user_model_base

LR = {"type": "loguniform", "low": 1e-3, "high": 1e-1, "grid_points": 2}
WIDTH = {"type": "categorical", "choices": [[8], [16]]}
ONE_EPOCH = {**BASE, "training": {"epochs": 1, "learning_rate": 0.01}}


@pytest.mark.parametrize("method", ["grid", "random", "bayesian", "gp", "cmaes"])
def test_each_method_runs_real_trials(tmp_path: Path, method: str) -> None:
    space = {"learning_rate": LR, "dropout": {"type": "uniform", "low": 0.0, "high": 0.3}}
    if method == "grid":
        space = {"learning_rate": LR, "hidden_sizes": WIDTH}
    study = search(tmp_path, tuning(space, n_trials=3, method=method), ONE_EPOCH)
    trials = study.trials
    assert len(trials) == 3
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.user_attrs for t in trials]
    assert all(0.0 < (t.value or 0) <= 1.0 for t in trials)
    if method == "grid":
        points = {tuple(sorted(t.params.items())) for t in trials}
        assert len(points) == 3  # no grid point twice
    for t in trials:
        cfg = json.loads((Path(t.user_attrs["run_dir"]) / "metadata.json").read_text())
        assert cfg["status"] == "completed" and cfg["tuning"]["trial"] == t.number


def _pruning_space() -> dict[str, object]:
    # grid order: the two good learning rates first, then two hopeless ones
    return {
        "learning_rate": {"type": "categorical", "choices": [0.05, 1e-7]},
        "hidden_sizes": {"type": "categorical", "choices": [[16], [8]]},
    }


@pytest.mark.parametrize("pruner", ["percentile", "successive_halving", "hyperband", "median"])
def test_each_pruner_on_val_loss_while_maximising_accuracy(tmp_path: Path, pruner: str) -> None:
    cfg = tuning(
        _pruning_space(),
        n_trials=4,
        method="grid",
        pruning={
            "enabled": True,
            "pruner": pruner,
            "min_epochs": 1,
            "intermediate_metric": "val_loss",
        },
    )
    base = {**BASE, "training": {"epochs": 3, "learning_rate": 0.01}}
    study = search(tmp_path, cfg, base)
    states = {t.number: t.state for t in study.trials}
    assert set(states.values()) <= {TrialState.COMPLETE, TrialState.PRUNED}
    # val_loss is compared as a loss: the first trial, with a good learning rate, completes
    assert states[0] == TrialState.COMPLETE
    for t in study.trials:
        assert t.intermediate_values and all(v < 0 for v in t.intermediate_values.values())
        meta = json.loads((Path(t.user_attrs["run_dir"]) / "metadata.json").read_text())
        assert meta["tuning"]["pruned"] == (t.state == TrialState.PRUNED)
        if t.state == TrialState.PRUNED:
            assert meta["stop_reason"] == "hook" and meta["epochs_completed"] < 3
    if pruner in ("percentile", "successive_halving", "median"):
        bad = [t for t in study.trials if t.params["learning_rate"] == 1e-7]
        assert all(t.state == TrialState.PRUNED for t in bad)


def test_the_default_pruner_stops_a_hopeless_trial_and_lets_a_good_one_finish(
    tmp_path: Path,
) -> None:
    """The schema's default pruning, nothing set but enabled, on a real study of digits: two
    good trials, then one whose learning rate cannot learn anything in 4 epochs, then the good
    configuration again."""
    import optuna

    cfg = tuning(
        {"learning_rate": {"type": "loguniform", "low": 1e-8, "high": 1e-1}},
        n_trials=4,
        pruning={"enabled": True},
    )
    del cfg["pruning"]["enabled"]
    assert cfg["pruning"] == {}  # the defaults decide
    queued = optuna.create_study(
        study_name="s", storage=f"sqlite:///{tmp_path}/studies.db", direction="maximize"
    )
    for lr in (0.05, 0.05, 1e-8, 0.05):
        queued.enqueue_trial({"learning_rate": lr})
    base = {**BASE, "training": {"epochs": 4, "learning_rate": 0.01}}
    study = search(tmp_path, cfg, base)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.params["learning_rate"] for t in trials] == [0.05, 0.05, 1e-8, 0.05]
    hopeless, good = trials[2], trials[3]
    assert hopeless.state == TrialState.PRUNED, hopeless.intermediate_values
    assert hopeless.user_attrs["epochs"] < 4
    meta = json.loads((Path(hopeless.user_attrs["run_dir"]) / "metadata.json").read_text())
    assert meta["tuning"]["pruned"] and meta["epochs_completed"] < 4
    assert good.state == TrialState.COMPLETE and good.user_attrs["epochs"] == 4
    assert good.value == trials[0].value  # the same configuration, run to the end


def test_conditional_momentum_only_with_sgd(tmp_path: Path) -> None:
    space = {
        "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
        "momentum": {"type": "uniform", "low": 0.5, "high": 0.9, "when": {"optimizer": "sgd"}},
    }
    study = search(tmp_path, tuning(space, n_trials=4, method="random"), ONE_EPOCH)
    assert {t.params["optimizer"] for t in study.trials} == {"adam", "sgd"}
    for t in study.trials:
        assert ("momentum" in t.params) == (t.params["optimizer"] == "sgd")
        run_cfg = (Path(t.user_attrs["run_dir"]) / "config.yaml").read_text()
        if "momentum" in t.params:
            assert f"momentum: {t.params['momentum']}" in run_cfg


def test_hanging_crashing_and_diverging_trials_fail_and_the_study_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the user's model module lives in the working folder
    base = user_model_base(tmp_path)
    space = {
        "model.kwargs.mode": {"type": "categorical", "choices": ["hang", "crash", "nan", "ok"]}
    }
    cfg = tuning(space, n_trials=4, method="grid", optimization={"timeout_per_trial": 20})
    started = time.monotonic()
    study = search(tmp_path, cfg, base)
    by_mode = {t.params["model.kwargs.mode"]: t for t in study.trials}
    assert by_mode["ok"].state == TrialState.COMPLETE
    for mode in ("hang", "crash", "nan"):
        assert by_mode[mode].state == TrialState.FAIL
    assert "timed out after 20 s" in by_mode["hang"].user_attrs["reason"]
    assert "the user's model broke" in by_mode["crash"].user_attrs["reason"]
    assert "non-finite" in by_mode["nan"].user_attrs["reason"].lower() or "nan" in (
        by_mode["nan"].user_attrs["reason"].lower()
    )
    assert time.monotonic() - started < 150
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]


def test_value_the_training_config_rejects_fails_that_trial_only(tmp_path: Path) -> None:
    space = {"dropout": {"type": "categorical", "choices": [0.1, 1.5]}}
    study = search(tmp_path, tuning(space, n_trials=2, method="grid"), ONE_EPOCH)
    by_value = {t.params["dropout"]: t for t in study.trials}
    assert by_value[0.1].state == TrialState.COMPLETE
    assert by_value[1.5].state == TrialState.FAIL
    assert "model.dropout" in by_value[1.5].user_attrs["reason"]
