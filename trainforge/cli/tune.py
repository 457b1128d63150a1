"""``trainforge tune`` / hyperparameter_tuner.py: search, or ``--analyze`` a study."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from trainforge.cli.common import flag, overrides_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--config", metavar="FILE", help="tuning config (YAML)")
    flag(
        parser,
        "--base_config",
        metavar="FILE",
        help="training config the trials start from (default: base_config: in the tuning "
        "config, else training_config.yaml beside it)",
    )
    flag(parser, "--n_trials", type=int, help="finished trials the study should reach")
    flag(
        parser,
        "--method",
        choices=["grid", "random", "bayesian", "tpe", "gp", "cmaes"],
        help="search strategy (overrides optimization.method)",
    )
    flag(parser, "--parallel", type=int, metavar="N", help="worker processes (parallel.n_jobs)")
    flag(
        parser,
        "--timeout_per_trial",
        type=float,
        metavar="S",
        help="seconds before a trial is stopped",
    )
    flag(parser, "--study_name", help="study name (default: the config file's stem)")
    flag(parser, "--study", help="--analyze: the study to analyze")
    flag(
        parser,
        "--storage",
        metavar="URL",
        help="Optuna storage URL (default sqlite:///trainforge_studies.db here)",
    )
    flag(
        parser, "--output", metavar="PATH", help="results folder (search) or HTML file (--analyze)"
    )
    flag(parser, "--seed", type=int, help="training seed of every trial (reproducibility.seed)")
    flag(parser, "--sampler_seed", type=int, help="seed of the sampler (optimization.seed)")
    flag(
        parser,
        "--validate_best",
        type=int,
        metavar="N",
        help="retrain the best config with N other seeds",
    )
    flag(parser, "--validate_top", type=int, metavar="K", help="validate the K best trials")
    flag(parser, "--analyze", action="store_true", help="write an HTML analysis of --study")
    overrides_flag(parser, " of the base training config")


def run(args: argparse.Namespace) -> int:
    from trainforge.errors import UsageError

    # A shell's `cmd &` starts us with SIGINT ignored; Ctrl-C (and SIGTERM, as a batch system
    # sends it) must still stop the running trial and leave the study clean.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.analyze:
        if not args.study and not args.study_name:
            raise UsageError("--analyze needs --study NAME (the --study_name of the search)")
        from trainforge.tune.report import analyze

        out = Path(args.output or f"{args.study or args.study_name}_report.html")
        path = analyze(args.study or args.study_name, args.storage, out)
        print(f"analysis report: {path}")
        return 0
    if not args.config:
        raise UsageError("give --config tuning_config.yaml (or --analyze --study NAME)")
    plan = _plan(args)
    return _search(plan)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    mapping = {
        "optimization.n_trials": args.n_trials,
        "optimization.method": args.method,
        "parallel.n_jobs": args.parallel,
        "optimization.timeout_per_trial": args.timeout_per_trial,
        "optimization.seed": args.sampler_seed,
        "optimization.validate_best": args.validate_best,
        "optimization.validate_top": args.validate_top,
    }
    return {k: v for k, v in mapping.items() if v is not None}


def _plan(args: argparse.Namespace) -> Any:
    from trainforge.config import load_config
    from trainforge.config.tuning import load_tuning_config
    from trainforge.errors import ConfigError
    from trainforge.tune import space
    from trainforge.tune.engine import DEFAULT_STORAGE
    from trainforge.tune.study import Plan

    tuning = load_tuning_config(args.config, _overrides(args))
    base_path = _base_path(args, tuning.base_config)
    base = load_config(base_path, args.overrides, seed=args.seed)
    base.require_data(str(base_path))
    space.check_space(tuning, base)
    study_name = args.study_name or tuning.study_name or Path(args.config).stem
    storage = args.storage or tuning.storage or DEFAULT_STORAGE
    n_trials = tuning.optimization.n_trials
    if tuning.optimization.method == "grid":
        size = len(space.grid_points(tuning))
        print(f"grid: {size} point(s)")
        if n_trials > size:
            print(f"n_trials {n_trials} capped at the grid's {size} point(s)")
            n_trials = size
    if tuning.optimization.validate_top > 1 and not tuning.optimization.validate_best:
        raise ConfigError("--validate_top needs --validate_best N (seeds per trial)")
    output = Path(args.output or Path("tuning_runs") / study_name)
    return Plan(
        tuning=tuning,
        base=base,
        output=output,
        study_name=study_name,
        storage=storage,
        n_trials=n_trials,
        n_jobs=tuning.parallel.n_jobs,
        gpus=_gpus(tuning.parallel.gpu_per_trial),
        threads=None,
    )


def _base_path(args: argparse.Namespace, from_file: str | None) -> Path:
    from trainforge.errors import ConfigError

    if args.base_config:
        return Path(args.base_config)
    here = Path(args.config).parent
    if from_file:
        return here / from_file
    beside = here / "training_config.yaml"
    if beside.is_file():
        print(f"base config: {beside} (beside the tuning config; set base_config: to choose)")
        return beside
    raise ConfigError(
        f"{args.config}: no base training config; set base_config: in it, pass --base_config "
        f"FILE, or put training_config.yaml beside it"
    )


def _gpus(gpu_per_trial: int) -> list[str]:
    """The GPUs trials may use: CUDA_VISIBLE_DEVICES, else what NVML sees (no torch import in
    the tuner's own process; the trials import it)."""
    import os

    if gpu_per_trial <= 0:
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip()]
    try:
        import pynvml
    except ImportError:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver: a CPU machine
        return []
    try:
        return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
    finally:
        pynvml.nvmlShutdown()


def _search(plan: Any) -> int:
    from trainforge.tune import outputs, study
    from trainforge.tune.validation import describe, validate_top

    n_jobs, _, _, notes = study.plan_workers(
        plan.n_jobs, plan.tuning.parallel.gpu_per_trial, plan.gpus, _cores()
    )
    from trainforge.tune.ddp_trial import trial_processes, trial_processes_note

    par = plan.tuning.parallel
    processes = trial_processes(par.processes_per_trial, par.gpu_per_trial, plan.gpus)
    ddp_note = trial_processes_note(processes, bool(plan.gpus))
    for note in [*notes, *([ddp_note] if ddp_note else [])]:
        print(note)
    print(
        f"study {plan.study_name} in {plan.storage}: {plan.tuning.optimization.method} search, "
        f"{plan.n_trials} trial(s), {n_jobs} worker(s); runs in {plan.output}/trials"
    )
    try:
        result = study.run_search(plan)
    except KeyboardInterrupt:
        import optuna

        result = optuna.load_study(study_name=plan.study_name, storage=plan.storage)
        outputs.write_results(plan.output, result, plan.tuning, plan.base, plan.storage)
        print("interrupted: the study is saved; run the same command again to resume it")
        return 130
    validation = None
    chosen = None
    opt = plan.tuning.optimization
    if opt.validate_best:
        validation, chosen = validate_top(
            result,
            plan.tuning,
            plan.base,
            plan.output,
            plan.storage,
            opt.validate_best,
            opt.validate_top,
        )
        for record in validation["trials"]:
            print(describe(record))
    best = outputs.write_results(
        plan.output, result, plan.tuning, plan.base, plan.storage, validation, chosen
    )
    outputs.print_top(result, plan.tuning)
    if best is None:
        print(f"no trial completed; see {plan.output / 'trials.csv'}")
        return 1
    print(f"best trial {best.number}: {opt.metric} {best.value:.4f}")
    print(f"best config: {plan.output / 'best_config.yaml'}")
    print(
        f"analyze: trainforge tune --analyze --study {plan.study_name} --output report.html"
        + (
            ""
            if plan.storage.startswith("sqlite:///trainforge_studies.db")
            else f" --storage {plan.storage}"
        )
    )
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1
