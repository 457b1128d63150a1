"""One tuning worker: runs trials of a shared study until it has ``n_trials`` finished ones.

Several workers (processes on one machine, or on many machines with one database) share the
study only through Optuna's storage: no queue of our own. ``python -m trainforge.tune.worker
SPEC.json`` is how ``--parallel`` starts the extra ones.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainforge.config import TrainConfig, validate
from trainforge.config.tuning import TuneConfig
from trainforge.tune import engine
from trainforge.tune.objective import trials_to_start
from trainforge.tune.trial import TrialFailed, TrialRunner, start_forkserver


@dataclass
class WorkerSpec:
    tuning: dict[str, Any]
    base: dict[str, Any]
    output: str
    study_name: str
    storage: str
    n_trials: int
    worker: int = 0
    n_workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    threads: int | None = None
    processes: int = 1

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WorkerSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def run_worker(spec: WorkerSpec) -> None:
    """Run trials until the study has enough; waits for other workers' running trials, so a
    dead worker's trial goes stale, is failed and retried here rather than left RUNNING."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    tuning = validate(spec.tuning, TuneConfig, source="")
    base = validate(spec.base, TrainConfig, source="")
    start_forkserver(base)  # its imports run while the study is opened
    storage = engine.make_storage(spec.storage, tuning)
    study = optuna.load_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=engine.make_sampler(tuning, spec.worker),
        pruner=engine.make_pruner(tuning, base.training.epochs),
    )
    runner = TrialRunner(
        tuning,
        base,
        Path(spec.output),
        spec.study_name,
        spec.storage,
        worker=spec.worker,
        env=spec.env,
        threads=spec.threads,
        processes=spec.processes,
    )
    progress = _Progress(spec.n_trials, spec.n_workers, tuning.optimization.maximize)
    while True:
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        n, waiting = engine.counted(trials)
        if trials_to_start(spec.n_trials, n, waiting):
            study.optimize(runner, n_trials=1, catch=(TrialFailed,), callbacks=[progress])
            continue
        if not any(t.state == TrialState.RUNNING for t in trials):
            return
        time.sleep(min(tuning.parallel.heartbeat_interval, 5))


class _Progress:
    """One line per finished trial: state, value, best so far, ETA."""

    def __init__(self, n_trials: int, n_workers: int, maximize: bool) -> None:
        self.n_trials = n_trials
        self.n_workers = n_workers
        self.maximize = maximize

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        done = engine.finished(trials)
        value = f"value {trial.value:.4f}" if trial.value is not None else ""
        reason = trial.user_attrs.get("reason", "")
        if trial.state != TrialState.COMPLETE and reason:
            value = reason if len(reason) < 100 else reason[:97] + "..."
        complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        best = ""
        if complete:
            pick = max if self.maximize else min
            top = pick(complete, key=lambda t: float(t.value or 0.0))
            best = f" | best {top.value:.4f} (trial {top.number})"
        durations = [float(t.user_attrs.get("duration_s", 0.0)) for t in done]
        left = max(self.n_trials - len(done), 0)
        eta = ""
        if durations and left:
            seconds = sum(durations) / len(durations) * left / self.n_workers
            eta = f" | ETA {_clock(seconds)}"
        print(
            f"trial {trial.number} {trial.state.name.lower()}: {value}{best} | "
            f"{len(done)}/{self.n_trials} finished{eta}",
            flush=True,
        )


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def main(argv: list[str]) -> int:
    from trainforge.errors import TrainforgeError

    try:
        run_worker(WorkerSpec.load(Path(argv[0])))
    except TrainforgeError as exc:
        print(f"trainforge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
