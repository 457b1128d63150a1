"""Best-configuration validation: retrain the top trials' configs with other seeds, so a lucky
draw is seen for what it is before it becomes best_config.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from trainforge.config import TrainConfig
from trainforge.config.tuning import TuneConfig
from trainforge.tune import space
from trainforge.tune.objective import Diverged, lucky_draw, mean_std, objective_value
from trainforge.tune.outputs import ranked
from trainforge.tune.trial import TrialRunner


def validate_top(
    study: optuna.Study,
    tuning: TuneConfig,
    base: TrainConfig,
    output: Path,
    storage: str,
    n_seeds: int,
    top: int,
) -> tuple[dict[str, Any], FrozenTrial | None]:
    """Retrain each of the ``top`` best trials with ``n_seeds`` other seeds.

    Returns the validation record (for best_params.json and the report) and the trial that
    ``optimization.select_best`` picks.
    """
    opt = tuning.optimization
    no_pruning = tuning.model_copy(
        update={"pruning": tuning.pruning.model_copy(update={"enabled": False})}
    )
    runner = TrialRunner(no_pruning, base, output, study.study_name, storage)
    records: list[dict[str, Any]] = []
    candidates = ranked(study, opt.maximize)[:top]
    for trial in candidates:
        cfg = space.trial_config(base, dict(trial.params), tuning)
        first = cfg.reproducibility.seed
        seeds = [first + 1 + i for i in range(n_seeds)]
        values: list[float] = []
        failures: list[str] = []
        for seed in seeds:
            data = cfg.model_dump(mode="json")
            data["reproducibility"]["seed"] = seed
            data["provenance"] = {"study": study.study_name, "trial": trial.number, "seed": seed}
            run_dir = output / "validation" / f"trial_{trial.number:04d}_seed_{seed}"
            print(f"validating trial {trial.number} with seed {seed}", flush=True)
            outcome = runner.run_config(data, run_dir, label=f"validation {trial.number}")
            history = [h[opt.metric] for h in outcome.get("history", []) if opt.metric in h]
            try:
                if outcome["status"] != "completed":
                    raise ValueError(outcome.get("reason") or outcome["status"])
                values.append(objective_value(history, opt.maximize, opt.objective))
            except (Diverged, ValueError) as exc:
                failures.append(f"seed {seed}: {exc}")
        record: dict[str, Any] = {
            "trial": trial.number,
            "trial_value": trial.value,
            "seeds": seeds,
            "values": values,
            "failures": failures,
        }
        if values:
            mean, std = mean_std(values)
            record.update(mean=mean, std=std, min=min(values), max=max(values))
            record["lucky"] = lucky_draw(float(trial.value or 0.0), values, opt.maximize)
        records.append(record)
    chosen = candidates[0] if candidates else None
    if opt.select_best == "validated_mean":
        scored = [r for r in records if "mean" in r]
        if scored:
            pick = max if opt.maximize else min
            best = pick(scored, key=lambda r: float(r["mean"]))
            chosen = next(t for t in candidates if t.number == best["trial"])
    result = {
        "metric": opt.metric,
        "n_seeds": n_seeds,
        "select_best": opt.select_best,
        "selected_trial": None if chosen is None else chosen.number,
        "trials": records,
    }
    study.set_user_attr("validation", result)
    return result, chosen


def describe(record: dict[str, Any]) -> str:
    """One line: the trial's value beside the seeds' mean ± std, with a lucky-draw warning."""
    if "mean" not in record:
        return (
            f"trial {record['trial']}: no validation run finished ({'; '.join(record['failures'])})"
        )
    line = (
        f"trial {record['trial']}: {record['trial_value']:.4f} in the search; "
        f"{record['mean']:.4f} ± {record['std']:.4f} over seeds {record['seeds']}"
    )
    if record.get("lucky"):
        line += (
            " - warning: the search's value is outside the seeds' range "
            f"[{record['min']:.4f}, {record['max']:.4f}]; it looks like a lucky draw"
        )
    return line
