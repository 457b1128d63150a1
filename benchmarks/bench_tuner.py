"""The tuner: per-trial overhead beyond training, and epochs used with pruning vs without.

(a) ``--part overhead``: a study of short trials timed as a whole ``trainforge tune`` process,
    against the sum of its trials' own training loops (from their run folders), and against a
    plain Optuna script (``jobs/optuna_loop.py``) running the same trials in-process with a
    hand-written loop. Reports start-up, seconds of overhead per trial and where they go
    (worker: sampling, storage, starting the trial's process; trial: the run's set-up and
    end), wall and CPU time of each process, rounds alternating.
(b) ``--part pruning``: TPE, 40 trials x 12 epochs of an MLP on digits (learning rate, width,
    dropout, weight decay, batch size), for trainforge's default pruner and the alternatives,
    over several seeds: total epochs, their fraction of the unpruned epochs, best val accuracy.
    In-process (``tuner_pruning.py``): trainforge's sampler, pruner and pruning decisions
    around a hand-written training loop.

    .venv/bin/python benchmarks/bench_tuner.py                 # both parts (~10 CPU-minutes)
    .venv/bin/python benchmarks/bench_tuner.py --quick         # 2 seeds, 1 round (~2 min quiet)
    .venv/bin/python benchmarks/bench_tuner.py --part pruning --seeds 0 1 2 3 4 \\
        --candidate sh_min2=pruner:successive_halving,min_epochs:2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "jobs"))
sys.path.insert(0, str(HERE.parent))


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """``name=key:value,key:value`` -> (name, pruning section)."""
    import yaml

    name, _, body = text.partition("=")
    section: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition(":")
        section[key.strip()] = yaml.safe_load(value)
    return name.strip(), section


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    import tuner_pruning

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["overhead", "pruning", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="fewer trials, seeds and rounds")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--n_trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument(
        "--pruners",
        nargs="+",
        default=list(tuner_pruning.CANDIDATES),
        help=f"from {', '.join(tuner_pruning.CANDIDATES)} and --candidate names",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        help="an extra pruning section to compare: name=key:value,key:value",
    )
    parser.add_argument(
        "--intermediate", default="val_accuracy", help="pruning.intermediate_metric"
    )
    parser.add_argument("--rounds", type=int, default=3, help="overhead: alternating rounds")
    parser.add_argument("--trials", type=int, default=8, help="overhead: trials per study")
    parser.add_argument("--trial_epochs", type=int, default=3, help="overhead: epochs per trial")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="overhead: another trainforge checkout to time alongside (e.g. before a change)",
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.rounds, args.trials = args.seeds[:2], 1, 4
        if args.pruners == list(tuner_pruning.CANDIDATES):
            args.pruners = ["none", "default", "median"]
    for text in args.candidate:
        name, section = parse_candidate(text)
        tuner_pruning.CANDIDATES[name] = section
        if name not in args.pruners:
            args.pruners.append(name)
    print(load_average(), flush=True)
    if args.part in ("overhead", "all"):
        import tuner_overhead

        tuner_overhead.main(args.trials, args.trial_epochs, args.rounds, args.baseline)
        print(load_average(), flush=True)
    if args.part in ("pruning", "all"):
        results = tuner_pruning.compare(
            args.pruners, args.seeds, args.n_trials, args.epochs, args.intermediate
        )
        tuner_pruning.report(results, args.seeds, args.n_trials, args.epochs)
        print(load_average(), flush=True)


if __name__ == "__main__":
    main()
