"""The tuner benchmark measures trainforge's own pruning: its trials train trainforge's mlp,
its search space and configs are valid trainforge configs, and a tiny study runs end to end
through trainforge's sampler and pruner."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path[:0] = [str(BENCH), str(BENCH / "jobs")]

from digits_trials import Params, network  # noqa: E402
from tuner_overhead import write_trainforge  # noqa: E402
from tuner_pruning import CANDIDATES, run_study, tuning_config  # noqa: E402

from trainforge.config import load_config  # noqa: E402
from trainforge.config.tuning import load_tuning_config  # noqa: E402
from trainforge.models import build_model  # noqa: E402
from trainforge.tune import space  # noqa: E402


def test_the_benchmark_network_is_trainforges_mlp() -> None:
    cfg = load_config({"model": {"architecture": "mlp", "hidden_sizes": [128], "dropout": 0.2}})

    class Spec:
        kind, shape, task, num_classes = "image", [1, 8, 8], "classification", 10

    ours = [tuple(v.shape) for v in build_model(cfg.model, Spec()).state_dict().values()]
    theirs = [tuple(v.shape) for v in network(128, 0.2).state_dict().values()]
    assert ours == theirs


def test_every_candidate_is_a_valid_pruning_section_and_maps_onto_the_trial() -> None:
    import optuna

    for section in CANDIDATES.values():
        tuning = tuning_config(section, n_trials=40, seed=0, metric="val_accuracy")
        assert tuning.optimization.method == "bayesian"
    trial = optuna.create_study().ask()
    params = space.suggest(trial, tuning)
    mapped = Params.from_overrides(space.overrides(params, tuning))
    assert mapped.learning_rate == params["learning_rate"]
    assert mapped.batch_size == params["batch_size"] and mapped.hidden >= 32


def test_a_tiny_study_prunes_through_trainforges_pruner() -> None:
    unpruned = run_study({"enabled": False}, n_trials=6, epochs=3, seed=0, metric="val_accuracy")
    assert (unpruned.epochs, unpruned.pruned) == (18, 0)
    pruned = run_study({}, n_trials=6, epochs=3, seed=0, metric="val_accuracy")
    # the first two trials always finish (the pruner needs two to compare with)
    assert 2 * 3 + 4 * 1 <= pruned.epochs <= 18
    assert pruned.epochs <= 18 - pruned.pruned  # a pruned trial stopped before its last epoch
    assert 0.5 < pruned.best <= unpruned.best + 0.05


def test_the_overhead_configs_validate(tmp_path: Path) -> None:
    cmd = write_trainforge(tmp_path, trials=2, epochs=1)
    assert cmd[-4:] == ["--output", "out", "--study_name", "bench"]
    tuning = load_tuning_config(tmp_path / "tuning_config.yaml")
    base = load_config(tmp_path / "training_config.yaml")
    space.check_space(tuning, base)
    assert tuning.optimization.n_trials == 2 and not tuning.pruning.enabled
