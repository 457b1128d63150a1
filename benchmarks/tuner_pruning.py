"""Epochs used with pruning vs without: TPE studies of an MLP on digits, run in-process.

Every study is built from a trainforge tuning config by trainforge's own code: the sampler
(``engine.make_sampler``: multivariate TPE, ``n_startup_trials``, the study seed), the pruner
(``engine.make_pruner`` from the ``pruning`` section), the search space (``space.suggest``),
the value the pruner sees (``pruner_value``), when it is asked (``may_prune``) and a trial's
value (``objective_value``: its best ``val_accuracy``). Only the training is a hand-written
loop in this process (``jobs/digits_trials.py``), because per-trial start-up is not what this
part measures and 40 trials x 12 epochs x several pruners x several seeds must stay short.
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

SEARCH_SPACE: dict[str, Any] = {
    "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "hidden_sizes": {"type": "categorical", "choices": [[32], [64], [128], [256], [512]]},
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
    "weight_decay": {"type": "loguniform", "low": 1e-6, "high": 1e-2},
    "batch_size": {"type": "categorical", "choices": [32, 64, 128, 256]},
}

# name -> the `pruning:` section of the tuning config ("default" is the schema's default)
CANDIDATES: dict[str, dict[str, Any]] = {
    "none": {"enabled": False},
    "default": {},
    "median": {"pruner": "median"},
    "percentile_33": {"pruner": "percentile", "percentile": 33},
    "successive_halving": {"pruner": "successive_halving", "min_epochs": 1, "reduction_factor": 3},
    "hyperband": {"pruner": "hyperband", "min_epochs": 1, "reduction_factor": 3},
}


@dataclass
class StudyResult:
    epochs: int  # epochs trained over all trials
    best: float  # best val_accuracy of the study
    pruned: int  # trials pruned
    seconds: float  # wall time of the study (in-process)


def tuning_config(pruning: dict[str, Any], n_trials: int, seed: int, metric: str) -> Any:
    from trainforge.config.tuning import TuneConfig

    return TuneConfig.model_validate(
        {
            "search_space": SEARCH_SPACE,
            "optimization": {
                "method": "bayesian",
                "metric": "val_accuracy",
                "n_trials": n_trials,
                "seed": seed,
            },
            "pruning": {"intermediate_metric": metric, **pruning},
        }
    )


def run_study(
    pruning: dict[str, Any], n_trials: int, epochs: int, seed: int, metric: str
) -> StudyResult:
    import optuna
    from digits_trials import Params, train

    from trainforge.tune import engine, space
    from trainforge.tune.objective import may_prune, objective_value, pruner_value

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    tuning = tuning_config(pruning, n_trials, seed, metric)
    prune = tuning.pruning
    assert prune.intermediate_mode is not None
    study = optuna.create_study(
        study_name=f"bench-seed-{seed}",  # hyperband's brackets hash the name: keep it fixed
        direction=engine.direction(tuning),
        sampler=engine.make_sampler(tuning),
        pruner=engine.make_pruner(tuning, epochs),
    )
    used = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        params = Params.from_overrides(space.overrides(space.suggest(trial, tuning), tuning))
        accuracies: list[float] = []
        stopped = False

        def on_epoch(epoch: int, accuracy: float, loss: float, model: Any) -> bool:
            accuracies.append(accuracy)
            if not prune.enabled:
                return False
            value = accuracy if prune.intermediate_metric == "val_accuracy" else loss
            trial.report(pruner_value(value, prune.intermediate_mode, True), epoch)  # type: ignore[arg-type]
            nonlocal stopped
            stopped = may_prune(epoch, prune.min_epochs, epochs) and trial.should_prune()
            return stopped

        used += train(params, epochs, on_epoch, fused=True)
        if stopped:
            raise optuna.TrialPruned()
        if len(accuracies) < epochs:
            return float("nan")  # diverged: Optuna fails the trial, as trainforge does
        return objective_value(accuracies, maximize=True)

    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    done = [t.value for t in study.trials if t.value is not None]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return StudyResult(used, max(done), pruned, seconds)


def compare(
    names: list[str], seeds: list[int], n_trials: int, epochs: int, metric: str
) -> dict[str, list[StudyResult]]:
    """Every candidate on every seed, the candidates alternating within each seed."""
    import torch

    torch.set_num_threads(1)  # tiny model: threads only add contention on a shared machine
    results: dict[str, list[StudyResult]] = {n: [] for n in names}
    for i, seed in enumerate(seeds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(run_study(CANDIDATES[name], n_trials, epochs, seed, metric))
            r = results[name][-1]
            print(
                f"  seed {seed} {name:20} epochs {r.epochs:4d} best {r.best:.4f} "
                f"pruned {r.pruned:2d} ({r.seconds:.1f} s)",
                flush=True,
            )
    return results


def report(
    results: dict[str, list[StudyResult]], seeds: list[int], n_trials: int, epochs: int
) -> None:
    full = n_trials * epochs
    base = results.get("none")
    print(
        f"\nTPE, {n_trials} trials x {epochs} epochs of an MLP on digits, seeds {seeds} "
        f"(unpruned: {full} epochs per study)"
    )
    print(
        f"{'pruner':20} {'epochs':>7} {'of unpruned':>12} {'best acc':>9} "
        f"{'vs none (pts)':>14} {'worst seed':>11} {'pruned':>7}"
    )
    for name, runs in results.items():
        used = statistics.mean(r.epochs for r in runs)
        best = statistics.mean(r.best for r in runs)
        pruned = statistics.mean(r.pruned for r in runs)
        delta = worst = ""
        if base is not None:
            diffs = [100 * (r.best - b.best) for r, b in zip(runs, base, strict=True)]
            delta = f"{statistics.mean(diffs):+.2f}"
            worst = f"{min(diffs):+.2f}"
        print(
            f"{name:20} {used:7.0f} {used / full:12.0%} {best:9.4f} {delta:>14} {worst:>11} "
            f"{pruned:7.1f}"
        )
    print("(means over seeds; 'vs none' is the mean per-seed difference of the best val accuracy)")
    print("\nwall time per study (in-process, this machine's load; not comparable to counts):")
    for name, runs in results.items():
        print(f"  {name:20} {statistics.median(r.seconds for r in runs):6.1f} s (median)")
