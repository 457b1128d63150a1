"""The search's results on disk: best_config.yaml, best_params.json, trials.csv, and the table
of the top trials."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainforge._fileio import atomic_write_text
from trainforge.config import TrainConfig, dump_config
from trainforge.config.tuning import TuneConfig
from trainforge.tune import engine, space


def best_trial(study: optuna.Study, maximize: bool) -> FrozenTrial | None:
    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE and t.value is not None
    ]
    if not complete:
        return None
    pick = max if maximize else min
    return pick(complete, key=lambda t: float(t.value or 0.0))


def ranked(study: optuna.Study, maximize: bool) -> list[FrozenTrial]:
    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE and t.value is not None
    ]
    return sorted(complete, key=lambda t: float(t.value or 0.0), reverse=maximize)


def best_config(
    base: TrainConfig, tuning: TuneConfig, trial: FrozenTrial, study: str, storage: str
) -> TrainConfig:
    """The full training config of a trial, with provenance naming study, trial and storage."""
    cfg = space.trial_config(base, dict(trial.params), tuning)
    data = cfg.model_dump(mode="json")
    data["provenance"] = {
        "source": "trainforge tune",
        "study": study,
        "trial": trial.number,
        "storage": storage,
        "value": trial.value,
        "metric": tuning.optimization.metric,
        "params": {k: space.decode(v) for k, v in trial.params.items()},
    }
    return TrainConfig.model_validate(data)


def write_results(
    output: Path,
    study: optuna.Study,
    tuning: TuneConfig,
    base: TrainConfig,
    storage: str,
    validation: dict[str, Any] | None = None,
    chosen: FrozenTrial | None = None,
) -> FrozenTrial | None:
    """best_config.yaml, best_params.json and trials.csv; returns the chosen trial."""
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "trials.csv", trials_csv(study))
    best = chosen or best_trial(study, tuning.optimization.maximize)
    if best is None:
        return None
    cfg = best_config(base, tuning, best, study.study_name, storage)
    atomic_write_text(output / "best_config.yaml", dump_config(cfg))
    params = {
        "study": study.study_name,
        "storage": storage,
        "metric": tuning.optimization.metric,
        "direction": tuning.optimization.direction,
        "trial": best.number,
        "value": best.value,
        "params": {k: space.decode(v) for k, v in best.params.items()},
        "config_keys": space.overrides(dict(best.params), tuning),
        "run_dir": best.user_attrs.get("run_dir"),
    }
    if validation is not None:
        params["validation"] = validation
    atomic_write_text(output / "best_params.json", json.dumps(params, indent=2) + "\n")
    return best


CSV_FIELDS = ["number", "state", "value", "duration_s", "epochs", "reason", "host", "run_dir"]


def trials_csv(study: optuna.Study) -> str:
    trials = study.get_trials(deepcopy=False)
    names = sorted({p for t in trials for p in t.params})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS[:3] + [f"params_{n}" for n in names] + CSV_FIELDS[3:])
    gone = engine.replaced(trials)
    for t in trials:
        reason = t.user_attrs.get("reason", "")
        if t.state == TrialState.FAIL and not reason:
            reason = "worker died (no heartbeat)"
            if t.number in gone:
                reason += "; retried"
        writer.writerow(
            [t.number, t.state.name, "" if t.value is None else t.value]
            + [t.params.get(n, "") for n in names]
            + [
                t.user_attrs.get("duration_s", ""),
                t.user_attrs.get("epochs", ""),
                reason,
                t.user_attrs.get("host", ""),
                t.user_attrs.get("run_dir", ""),
            ]
        )
    return buf.getvalue()


def print_top(study: optuna.Study, tuning: TuneConfig, top: int = 10) -> None:
    """A rich table of the best trials (plain text without a terminal)."""
    from rich.console import Console
    from rich.table import Table

    best = ranked(study, tuning.optimization.maximize)[:top]
    if not best:
        print("no trial completed")
        return
    names = sorted({p for t in best for p in t.params})
    table = Table(title=f"top trials of {study.study_name} ({tuning.optimization.metric})")
    for col in ["trial", tuning.optimization.metric, *names, "epochs", "s"]:
        table.add_column(col, overflow="fold")
    for t in best:
        table.add_row(
            str(t.number),
            f"{t.value:.4f}",
            *[_fmt(t.params.get(n)) for n in names],
            str(t.user_attrs.get("epochs", "")),
            f"{float(t.user_attrs.get('duration_s', 0.0)):.1f}",
        )
    Console(width=max(100, 20 * len(names) + 40), markup=False).print(table)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)
