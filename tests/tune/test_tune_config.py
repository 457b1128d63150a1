"""The tuning config: SPEC's file verbatim, typed errors, the search space mapped onto the
training config (pure functions, no trial runs)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from tune_helpers import BASE, spec_tuning_yaml

from trainforge.config import load_config
from trainforge.config.tuning import TuneConfig, load_tuning_config
from trainforge.errors import ConfigError
from trainforge.tune import space
from trainforge.tune.objective import (
    Diverged,
    lucky_draw,
    may_prune,
    mean_std,
    objective_value,
    pruner_value,
    trials_to_start,
)


def test_spec_tuning_config_validates_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "tuning_config.yaml"
    path.write_text(spec_tuning_yaml())
    cfg = load_tuning_config(path)
    assert list(cfg.search_space) == [
        "learning_rate",
        "batch_size",
        "weight_decay",
        "optimizer",
        "lr_scheduler",
    ]
    assert cfg.optimization.method == "bayesian"
    assert cfg.optimization.n_trials == 50 and cfg.optimization.timeout_per_trial == 7200
    assert cfg.pruning.intermediate_metric == "val_loss"
    # val_loss is compared in its own direction while the study maximises val_accuracy
    assert cfg.pruning.intermediate_mode == "min" and cfg.optimization.maximize
    assert cfg.parallel.n_jobs == 4 and cfg.parallel.gpu_per_trial == 1
    keys = {space.config_key(n, s) for n, s in cfg.search_space.items()}
    assert keys == {
        "training.learning_rate",
        "data.batch_size",
        "training.weight_decay",
        "training.optimizer",
        "lr_scheduler.type",
    }
    space.check_space(cfg, load_config(BASE))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "search_space:\n  lr:\n    type: loguniform\n    low: 0\n    high: 1\n",
            "search_space.lr (line 2): loguniform needs low > 0",
        ),
        (
            "search_space: {}\noptimisation: {metric: val_loss}\n",
            "optimisation (line 2): unknown key; did you mean 'optimization'?",
        ),
        (
            "search_space:\n  opt: {type: categorical}\n",
            "a categorical parameter needs a non-empty choices list",
        ),
        (
            "search_space:\n  m: {type: uniform, low: 0, high: 1, when: {optimizer: sgd}}\n",
            "search_space.m.when names 'optimizer', which is not a searched parameter",
        ),
        (
            "search_space: {}\noptimization: {metric: val_weird}\n",
            "set optimization.direction to minimize or maximize",
        ),
    ],
)
def test_bad_tuning_configs_name_key_line_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_tuning_config(path)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def _cfg(space_dict: dict[str, object], method: str = "random") -> TuneConfig:
    return TuneConfig.model_validate(
        {"search_space": space_dict, "optimization": {"method": method, "metric": "val_loss"}}
    )


def test_bad_search_spaces_fail_before_any_trial() -> None:
    base = load_config(BASE)
    with pytest.raises(ConfigError, match="not a known short name"):
        space.check_space(_cfg({"nonsense": {"type": "uniform", "low": 0, "high": 1}}), base)
    with pytest.raises(ConfigError, match=r"'training\.nope' does not exist"):
        space.check_space(_cfg({"training.nope": {"type": "uniform", "low": 0, "high": 1}}), base)
    with pytest.raises(ConfigError, match="grid search needs discrete values"):
        space.check_space(
            _cfg({"dropout": {"type": "uniform", "low": 0, "high": 0.5}}, "grid"), base
        )
    with pytest.raises(ConfigError, match="no search_space"):
        space.check_space(_cfg({}), base)
    # free-form model.kwargs accept new keys
    space.check_space(_cfg({"model.kwargs.width": {"type": "int", "low": 1, "high": 4}}), base)


def test_conditional_parameter_only_where_its_condition_holds() -> None:
    cfg = _cfg(
        {
            "momentum": {"type": "uniform", "low": 0.5, "high": 0.9, "when": {"optimizer": "sgd"}},
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
        }
    )
    assert space.ordered(cfg) == ["optimizer", "momentum"]
    sgd = space.suggest(optuna.trial.FixedTrial({"optimizer": "sgd", "momentum": 0.7}), cfg)
    adam = space.suggest(optuna.trial.FixedTrial({"optimizer": "adam", "momentum": 0.7}), cfg)
    assert sgd == {"optimizer": "sgd", "momentum": 0.7}
    assert adam == {"optimizer": "adam"}
    trained = space.trial_config(load_config(BASE), sgd, cfg)
    assert trained.training.optimizer == "sgd" and trained.training.momentum == 0.7


def test_grid_points_are_every_combination_once() -> None:
    cfg = _cfg(
        {
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
            "momentum": {
                "type": "categorical",
                "choices": [0.5, 0.9],
                "when": {"optimizer": "sgd"},
            },
            "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-1, "grid_points": 3},
            "epochs": {"type": "int", "low": 1, "high": 2},
        },
        "grid",
    )
    points = space.grid_points(cfg)
    # adam: 3 lr x 2 epochs; sgd: 2 momenta x 3 lr x 2 epochs
    assert len(points) == 6 + 12
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert space.grid_values("learning_rate", cfg.search_space["learning_rate"]) == [
        0.001,
        0.01,
        0.1,
    ]


def test_list_valued_choices_and_rejected_values() -> None:
    cfg = _cfg({"hidden_sizes": {"type": "categorical", "choices": [[16], [32, 16]]}})
    params = space.suggest(optuna.trial.FixedTrial({"hidden_sizes": "- 32\n- 16"}), cfg)
    assert space.trial_config(load_config(BASE), params, cfg).model.hidden_sizes == [32, 16]
    bad = _cfg({"dropout": {"type": "categorical", "choices": [1.5]}})
    with pytest.raises(ConfigError, match=r"model\.dropout"):
        space.trial_config(load_config(BASE), {"dropout": 1.5}, bad)


def test_objective_and_pruning_decisions() -> None:
    assert objective_value([0.5, 0.9, 0.7], maximize=True) == 0.9
    assert objective_value([0.5, 0.9, 0.7], maximize=True, how="last") == 0.7
    assert objective_value([0.5, 0.2, 0.3], maximize=False) == 0.2
    with pytest.raises(Diverged, match="nan"):
        objective_value([0.5, float("nan")], maximize=False)
    with pytest.raises(ValueError, match="validated no time"):
        objective_value([], maximize=True)
    # a loss reported while maximising accuracy is negated: lower loss stays "better"
    assert pruner_value(0.3, "min", maximize=True) == -0.3
    assert pruner_value(0.3, "max", maximize=True) == 0.3
    assert pruner_value(0.3, "min", maximize=False) == 0.3
    assert not may_prune(1, 2, 10) and may_prune(2, 2, 10) and not may_prune(10, 1, 10)
    assert trials_to_start(5, 4, 0) and not trials_to_start(5, 5, 0) and trials_to_start(5, 5, 1)
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert mean_std([2.0]) == (2.0, 0.0)
    assert lucky_draw(0.99, [0.9, 0.95], maximize=True)
    assert not lucky_draw(0.93, [0.9, 0.95], maximize=True)
    assert lucky_draw(0.1, [0.2, 0.3], maximize=False)


def test_readme_tuning_reference_is_current() -> None:
    from trainforge.config.reference import tuning_reference_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- tuning-reference:start -->") + len("<!-- tuning-reference:start -->")
    end = readme.index("<!-- tuning-reference:end -->")
    assert readme[start:end].strip() == tuning_reference_markdown().strip(), (
        "README's tuning reference is stale: paste `trainforge config reference tuning`"
    )


def test_workers_never_share_a_gpu_and_split_cpu_cores() -> None:
    from trainforge.tune.study import plan_workers

    n, gpus, threads, notes = plan_workers(4, 1, ["0", "1"], cores=16)
    assert n == 2 and gpus == [["0"], ["1"]] and threads is None
    assert "capped at 2" in notes[0]
    n, gpus, _, _ = plan_workers(2, 2, ["0", "1", "2", "3", "4"], cores=16)
    assert gpus == [["0", "1"], ["2", "3"]]
    n, gpus, threads, notes = plan_workers(4, 1, [], cores=16)
    assert n == 4 and threads == 4 and gpus == [[], [], [], []]
    assert plan_workers(1, 1, [], cores=2)[2] == 2
    with pytest.raises(ValueError, match="gpu_per_trial is 2"):
        plan_workers(1, 2, ["0"], cores=4)


def test_retried_trials_count_once() -> None:
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from trainforge.tune import engine

    dist = {"x": FloatDistribution(0, 1)}
    done = create_trial(params={"x": 0.1}, distributions=dist, value=1.0)
    dead = create_trial(params={"x": 0.2}, distributions=dist, state=TrialState.FAIL)
    study = optuna.create_study()
    study.add_trials([done, dead])
    retry = create_trial(
        params={"x": 0.2},
        distributions=dist,
        state=TrialState.WAITING,
        system_attrs={"failed_trial": 1, "retry_history": [1]},
    )
    study.add_trial(retry)
    trials = study.get_trials()
    assert engine.counted(trials) == (2, 1)  # the retry replaces the dead trial
    assert [t.number for t in engine.finished(trials)] == [0]
    assert trials_to_start(2, *engine.counted(trials))  # the queued retry still needs a worker
