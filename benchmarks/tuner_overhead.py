"""Per-trial overhead of ``trainforge tune`` beyond the trials' own training.

A study of short trials (random sampler, no pruning, an MLP on the bundled digits) is timed as
a whole ``python -m trainforge tune`` process and compared with ``jobs/optuna_loop.py``, a
plain Optuna script running the same trials in-process with a hand-written loop. Training is
the sum of the epochs' own durations (trainforge: each trial's ``metrics.json`` epoch records;
the script: its own clock around each epoch). Everything else is overhead, split into:

- start-up: launch -> the first trial begins (imports, config, opening the study);
- first trial's process: the forkserver starting (it imports torch and the data layer once);
- per trial (median over the other trials): starting the trial's process and talking to it
  (the worker's trial time minus the trial process's own), the run's set-up and end inside
  the trial (its time minus its epochs: data, model, run folder, checkpoints), and the gap
  between trials (sampling, storage);
- end: the last trial's end -> the process exits (results, table).

CPU time is user + system of the whole process tree: this process makes itself a child
subreaper (Linux), so the forkserver and trial processes, orphaned when the tune command
exits, are reaped here and counted by ``RUSAGE_CHILDREN``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import yaml
from rounds import alternate_records, median_spread
from tuner_pruning import SEARCH_SPACE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_child_subreaper, 1)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(launch time, wall seconds, CPU seconds of the whole process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr.decode()[-3000:]}")
    while True:  # orphaned descendants (the forkserver) were re-parented to us: reap them
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return launched, wall, cpu


def write_trainforge(work: Path, trials: int, epochs: int) -> list[str]:
    base = {
        "model": {"architecture": "mlp", "hidden_sizes": [64]},
        "data": {"train_path": "builtin:digits", "batch_size": 64, "val_split": 0.2},
        "training": {"epochs": epochs, "optimizer": "adam"},
    }
    space = dict(SEARCH_SPACE)
    tuning = {
        "search_space": space,
        "optimization": {
            "method": "random",
            "metric": "val_accuracy",
            "n_trials": trials,
            "seed": 0,
        },
        "pruning": {"enabled": False},
    }
    (work / "training_config.yaml").write_text(yaml.safe_dump(base))
    (work / "tuning_config.yaml").write_text(yaml.safe_dump(tuning))
    return [sys.executable, "-m", "trainforge", "tune", "--config", "tuning_config.yaml",
            "--output", "out", "--study_name", "bench"]  # fmt: skip


def run_trainforge(
    root: Path, trials: int, epochs: int, n: list[int], checkout: Path = ROOT
) -> dict[str, float]:
    import optuna

    n[0] += 1
    work = root / f"trainforge_{n[0]}"
    work.mkdir()
    cmd = write_trainforge(work, trials, epochs)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    launched, wall, cpu = timed(cmd, work, env)
    study = optuna.load_study(study_name="bench", storage=f"sqlite:///{work}/trainforge_studies.db")
    rows = []
    for t in sorted(study.trials, key=lambda t: t.number):
        assert t.datetime_start is not None and t.datetime_complete is not None
        lines = Path(t.user_attrs["run_dir"], "logs", "metrics.json")
        if not lines.is_absolute():
            lines = work / lines
        records = [json.loads(x) for x in lines.read_text().splitlines()]
        training = sum(r["duration"] for r in records if r["type"] == "epoch")
        rows.append(
            {
                "start": t.datetime_start.timestamp(),
                "end": t.datetime_complete.timestamp(),
                "child": float(t.user_attrs["duration_s"]),
                "training": training,
            }
        )
    return summarise(launched, wall, cpu, rows, trials)


def run_plain(root: Path, trials: int, epochs: int, n: list[int]) -> dict[str, float]:
    n[0] += 1
    work = root / f"plain_{n[0]}"
    work.mkdir()
    report = work / "report.json"
    cmd = [sys.executable, str(HERE / "jobs" / "optuna_loop.py"), "--trials", str(trials),
           "--epochs", str(epochs), "--out", str(work / "out"), "--report", str(report)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HERE / "jobs")}
    launched, wall, cpu = timed(cmd, work, env)
    data = json.loads(report.read_text())
    rows = [{**r, "child": r["end"] - r["start"]} for r in data["trials"]]
    return summarise(launched, wall, cpu, rows, trials)


def summarise(
    launched: float, wall: float, cpu: float, rows: list[dict[str, float]], trials: int
) -> dict[str, float]:
    training = sum(r["training"] for r in rows)
    later = rows[1:] or rows
    gaps = [b["start"] - a["end"] for a, b in pairwise(rows)] or [0.0]
    return {
        "wall": wall,
        "cpu": cpu,
        "training": training,
        "overhead_per_trial": (wall - training) / trials,
        "startup": rows[0]["start"] - launched,
        "first_process": (rows[0]["end"] - rows[0]["start"]) - rows[0]["child"],
        "process": statistics.median((r["end"] - r["start"]) - r["child"] for r in later),
        "setup": statistics.median(r["child"] - r["training"] for r in later),
        "gap": statistics.median(gaps),
        "end": launched + wall - rows[-1]["end"],
    }


ROWS: list[tuple[str, str]] = [
    ("wall", "whole process, wall s"),
    ("cpu", "whole process, CPU s (user+sys, all processes)"),
    ("training", "training: sum of the epochs, s"),
    ("overhead_per_trial", "overhead per trial, s ((wall - training) / trials)"),
    ("startup", "start-up: launch -> first trial, s"),
    ("first_process", "first trial's process start (forkserver), s"),
    ("process", "per trial: process start + pipe, s (median)"),
    ("setup", "per trial: run set-up and end, s (median)"),
    ("gap", "per trial: between trials (sampler, storage), s (median)"),
    ("end", "end: last trial -> exit, s"),
]


def main(
    trials: int, epochs: int, rounds: int, baseline: Path | None = None
) -> dict[str, list[dict[str, float]]]:
    """``baseline``: another trainforge checkout (e.g. before a change) timed alongside."""
    become_subreaper()
    with tempfile.TemporaryDirectory(prefix="bench-tuner-") as tmp:
        root = Path(tmp)
        n = [0]
        contenders = {"trainforge tune": lambda: run_trainforge(root, trials, epochs, n)}
        if baseline is not None:
            contenders[f"tune ({baseline.name})"] = lambda: run_trainforge(
                root, trials, epochs, n, baseline.resolve()
            )
        contenders["plain Optuna script"] = lambda: run_plain(root, trials, epochs, n)
        records = alternate_records(contenders, rounds)
    print(
        f"\nper-trial overhead: {trials} trials x {epochs} epochs (random sampler, no pruning, "
        f"MLP on digits), median of {rounds} alternating round(s) (± half the min-max range)"
    )
    names = list(records)
    print(f"{'':58}" + "".join(f"{name:>24}" for name in names))
    for key, label in ROWS:
        cells = []
        for name in names:
            mid, spread = median_spread([r[key] for r in records[name]])
            cells.append(f"{mid:15.3f} ±{spread:4.0%}   ")
        print(f"{label:58}" + "".join(f"{c:>24}" for c in cells))
    return records
