"""A whole search: open (or resume) the study, run the workers, write the results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna

from trainforge.config import TrainConfig
from trainforge.config.tuning import TuneConfig
from trainforge.errors import TrainforgeError, UsageError
from trainforge.tune import engine, space
from trainforge.tune.ddp_trial import trial_processes
from trainforge.tune.trial import start_forkserver
from trainforge.tune.worker import WorkerSpec, run_worker


@dataclass
class Plan:
    """Everything a search needs, resolved from the config and the flags."""

    tuning: TuneConfig
    base: TrainConfig
    output: Path
    study_name: str
    storage: str
    n_trials: int
    n_jobs: int
    gpus: list[str]
    threads: int | None


def plan_workers(
    n_jobs: int, gpu_per_trial: int, gpus: list[str], cores: int
) -> tuple[int, list[list[str]], int | None, list[str]]:
    """How many workers run, the GPUs each gets, torch threads per trial, and notices.

    Never two trials on one GPU: with GPUs, n_jobs is capped by GPUs // gpu_per_trial. Without,
    the cores are split so N workers do not fight over the same ones.
    """
    notes: list[str] = []
    if gpus and gpu_per_trial > 0:
        most = len(gpus) // gpu_per_trial
        if most == 0:
            raise ValueError(
                f"parallel.gpu_per_trial is {gpu_per_trial} but this machine has {len(gpus)} "
                "GPU(s); lower it"
            )
        if n_jobs > most:
            notes.append(
                f"--parallel {n_jobs} capped at {most}: {len(gpus)} GPU(s) / "
                f"{gpu_per_trial} per trial"
            )
            n_jobs = most
        split = [gpus[i * gpu_per_trial : (i + 1) * gpu_per_trial] for i in range(n_jobs)]
        return n_jobs, split, None, notes
    threads = max(cores // n_jobs, 1)
    if n_jobs > 1:
        notes.append(
            f"no GPU: {n_jobs} workers share {cores} CPU core(s), {threads} thread(s) each"
        )
    return n_jobs, [[] for _ in range(n_jobs)], threads, notes


def open_study(plan: Plan) -> optuna.Study:
    """Create the study or load the one with this name (a re-run resumes it)."""
    storage = engine.make_storage(plan.storage)
    trials_dir = plan.output / "trials"
    is_new = plan.study_name not in optuna.get_all_study_names(storage)
    if is_new and trials_dir.is_dir() and any(trials_dir.iterdir()):
        raise UsageError(
            f"{plan.output} holds the trials of another study; give a new --output for study "
            f"'{plan.study_name}' (or resume that study with its --study_name)"
        )
    study = optuna.create_study(
        study_name=plan.study_name,
        storage=storage,
        direction=engine.direction(plan.tuning),
        load_if_exists=True,
    )
    wanted = engine.direction(plan.tuning)
    if study.direction.name.lower() != wanted:
        raise UsageError(
            f"study '{plan.study_name}' in {plan.storage} was created to "
            f"{study.direction.name.lower()}, but this config says {wanted}; use another "
            "--study_name"
        )
    study.set_user_attr("metric", plan.tuning.optimization.metric)
    study.set_user_attr("intermediate_metric", plan.tuning.pruning.intermediate_metric)
    study.set_user_attr("tuning_config", plan.tuning.model_dump(mode="json"))
    study.set_user_attr("base_config", plan.base.model_dump(mode="json"))
    study.set_user_attr("output", str(plan.output))
    if plan.tuning.optimization.method == "grid" and not study.get_trials(deepcopy=False):
        # Every grid point is queued once; a worker takes a queued trial atomically, so
        # parallel workers never run one point twice.
        for point in space.grid_points(plan.tuning)[: plan.n_trials]:
            study.enqueue_trial(point, skip_if_exists=True)
    return study


def run_search(plan: Plan) -> optuna.Study:
    """Run the workers until the study has ``n_trials`` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    n_jobs, gpu_split, threads, _ = plan_workers(
        plan.n_jobs, plan.tuning.parallel.gpu_per_trial, plan.gpus, os.cpu_count() or 1
    )
    par = plan.tuning.parallel
    processes = trial_processes(par.processes_per_trial, par.gpu_per_trial, plan.gpus)
    if n_jobs == 1:
        start_forkserver(plan.base)  # its imports overlap opening the study
    open_study(plan)
    specs = [
        WorkerSpec(
            tuning=plan.tuning.model_dump(mode="json"),
            base=plan.base.model_dump(mode="json"),
            output=str(plan.output),
            study_name=plan.study_name,
            storage=plan.storage,
            n_trials=plan.n_trials,
            worker=i,
            n_workers=n_jobs,
            env={"CUDA_VISIBLE_DEVICES": ",".join(gpu_split[i])} if gpu_split[i] else {},
            threads=threads,
            processes=processes,
        )
        for i in range(n_jobs)
    ]
    if n_jobs == 1:
        run_worker(specs[0])
    else:
        _run_processes(specs, plan.output)
    return optuna.load_study(study_name=plan.study_name, storage=plan.storage)


def _run_processes(specs: list[WorkerSpec], output: Path) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    # the workers import this trainforge, installed or run from a checkout
    root = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath}
    with tempfile.TemporaryDirectory(prefix="trainforge-tune-") as tmp:
        for spec in specs:
            path = Path(tmp) / f"worker_{spec.worker}.json"
            spec.save(path)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "trainforge.tune.worker", str(path)],
                    start_new_session=True,  # we forward Ctrl-C ourselves, once
                    env=env,
                )
            )
        try:
            while any(p.poll() is None for p in procs):
                time.sleep(0.2)
        except BaseException:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGINT)
            deadline = time.monotonic() + 60
            for p in procs:
                try:
                    p.wait(max(deadline - time.monotonic(), 1))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            raise
    bad = [p.returncode for p in procs if p.returncode not in (0, None)]
    if len(bad) == len(procs):
        raise TuneFailed(f"every tuning worker failed (exit codes {bad}); see above")
    if bad:
        # the others carried on: a dead worker's trial was failed and retried by them
        print(f"warning: {len(bad)} tuning worker(s) exited early (exit codes {bad})", flush=True)


class TuneFailed(TrainforgeError):
    """The search itself could not go on (not a user mistake)."""

    exit_code = 1


def study_summary(study: optuna.Study) -> dict[str, object]:
    """Counts by state, for the summary line."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    return {"study": study.study_name, "trials": counts}


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"
