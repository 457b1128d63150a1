"""Whole-process cost: `trainforge train` vs a hand-written PyTorch script vs PyTorch Lightning.

What a user waits for: each contender runs as its own process (start-up, imports, data
loading, the loop, checkpoints, exit), on the same data with the same network and settings.

- ``--job mlp`` (the default): the user's own MLP 64→1024→1024→10 loaded by import path,
  pixel CSVs of 1,438 / 359 digits, batch 32, Adam, validation every epoch.
- ``--job cnn``: simple_cnn on the digits written as 32x32 RGB PNGs in class folders, batch 64,
  flip + crop, ``--workers`` loader processes.

trainforge runs with its default instrumentation (metrics.json, train.log, TensorBoard, best
and last checkpoints every epoch); the hand-written script saves best and last too; Lightning
keeps its defaults plus a best/last ModelCheckpoint. Rounds alternate (rotating the order);
each figure is the median over rounds, ± half its min-max range. Start-up is launch → first
epoch; per epoch is the loop's wall time (checkpoints included) over the epoch count.

    .venv/bin/python benchmarks/bench_process.py [--job mlp|cnn] [--epochs 40] [--rounds 5]
    .venv/bin/python benchmarks/bench_process.py --quick      # 5 epochs, 2 rounds
    .venv/bin/python benchmarks/bench_process.py --importtime # + python -X importtime tables
    .venv/bin/python benchmarks/bench_process.py --no-lightning  # hand-written vs trainforge only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rounds import alternate_records, median_spread

HERE = Path(__file__).resolve().parent
JOBS = HERE / "jobs"
sys.path.insert(0, str(HERE.parent / "tests"))


def write_data(root: Path) -> None:
    """train.csv / val.csv (pixel0..pixel63 + label: 1,438 / 359 rows) and images/<class>/."""
    from fixtures import make_image_folder
    from sklearn.datasets import load_digits

    digits = load_digits()
    header = "label," + ",".join(f"pixel{i}" for i in range(64)) + "\n"
    rows = [
        f"{y}," + ",".join(str(int(v)) for v in x)
        for x, y in zip(digits.data, digits.target, strict=True)
    ]
    (root / "train.csv").write_text(header + "\n".join(rows[:1438]) + "\n")
    (root / "val.csv").write_text(header + "\n".join(rows[1438:]) + "\n")
    make_image_folder(root / "images", n_per_class=180, size=32)


def trainforge_config(job: str, data: Path, epochs: int, workers: int) -> str:
    if job == "mlp":
        model = 'architecture: "user_models:MLP"'
        source = (
            f"train_path: {data / 'train.csv'}, val_path: {data / 'val.csv'}, batch_size: 32, "
            "eval_batch_size: 256"  # the hand-written and Lightning jobs validate at 256 too
        )
        augment = ""
    else:
        model = "architecture: simple_cnn"
        source = (
            f"train_path: {data / 'images'}, batch_size: 64, eval_batch_size: 256, "
            f"num_workers: {workers}, "
            f"persistent_workers: {str(workers > 0).lower()}"
        )
        augment = ", augmentation: {random_flip: true, random_crop: true}"
    return (
        f"model: {{{model}}}\n"
        f"data: {{{source}{augment}}}\n"
        f"training: {{epochs: {epochs}, optimizer: adam, learning_rate: 0.001}}\n"
        "checkpointing: {monitor: val_loss}\n"
    )


def trainforge_loop(run: Path) -> tuple[float, float, float]:
    """(first epoch start, loop end, final val_accuracy) from the run's metrics.json."""
    lines = [json.loads(line) for line in (run / "logs" / "metrics.json").read_text().splitlines()]
    start = next(e["time"] for e in lines if e.get("event") == "start")
    accuracy = [e for e in lines if e["type"] == "validation"][-1]["metrics"]["val_accuracy"]
    return start, lines[-1]["time"], accuracy


def contender(
    name: str, job: str, data: Path, work: Path, epochs: int, workers: int
) -> tuple[list[str], Callable[[Path], tuple[float, float, float]]]:
    """The command line of one contender and how to read its loop times afterwards."""
    out = work / "out"
    if name.startswith("trainforge"):
        config = work / "config.yaml"
        config.write_text(trainforge_config(job, data, epochs, workers))
        cmd = [sys.executable, "-m", "trainforge", "train", "--config", str(config)]
        return [*cmd, "--output", str(out), "--overwrite"], lambda _: trainforge_loop(out)
    script = JOBS / ("hand_written.py" if name == "hand-written" else "with_lightning.py")
    report = work / "report.json"
    cmd = [sys.executable, str(script), "--job", job, "--data", str(data), "--out", str(out)]
    cmd += ["--epochs", str(epochs), "--workers", str(workers), "--report", str(report)]

    def read(_: Path) -> tuple[float, float, float]:
        r = json.loads(report.read_text())
        return r["loop_start"], r["loop_end"], r["val_accuracy"]

    return cmd, read


def job_env(checkout: str | None = None) -> dict[str, str]:
    """The contenders' environment: the jobs folder importable (the user's MLP), then
    ``checkout`` (another trainforge source tree to time) and the caller's own PYTHONPATH."""
    paths = [str(JOBS), *filter(None, [checkout, os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_once(
    cmd: list[str],
    read: Callable[[Path], tuple[float, float, float]],
    work: Path,
    checkout: str | None = None,
) -> dict[str, float]:
    env = job_env(checkout)
    launched = time.time()
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr = proc.stderr.read() if proc.stderr else b""
    # the child's own CPU time (user + sys): contention on a shared machine stretches wall
    # time far more than it changes the work a process does
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=stderr)
    start, end, accuracy = read(work)
    return {
        "wall": ended - launched,
        "cpu": usage.ru_utime + usage.ru_stime,
        "load": os.getloadavg()[0],
        "startup": start - launched,
        "loop": end - start,
        "exit": ended - end,
        "acc": accuracy,
    }


def import_table(cmd: list[str], work: Path, top: int = 6) -> list[tuple[str, float]]:
    """Top-level imports of one process run under ``python -X importtime``: (module, seconds)."""
    env = job_env()
    proc = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        cwd=work,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    totals: list[tuple[str, float]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if (
            line.startswith("import time:")
            and len(parts) == 3
            and not parts[2].startswith("  ")
            and parts[1].strip().isdigit()
        ):
            totals.append((parts[2].strip(), int(parts[1]) / 1e6))
    total = sum(t for _, t in totals)
    return [("(all imports)", total), *sorted(totals, key=lambda x: -x[1])[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="cnn job: loader processes")
    parser.add_argument("--quick", action="store_true", help="5 epochs, 2 rounds")
    parser.add_argument("--importtime", action="store_true", help="also -X importtime tables")
    parser.add_argument("--no-lightning", action="store_true", help="hand-written vs trainforge")
    parser.add_argument(
        "--checkout",
        help="another trainforge source tree (e.g. a `git worktree` of main): timed as one "
        "more contender, trainforge@checkout, in the same alternating rounds",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads of every contender (OMP_NUM_THREADS): 1 keeps CPU time meaningful "
        "on a machine shared with other work, where idle OpenMP threads spin",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    if args.quick:
        args.epochs, args.rounds = 5, 2
    names = ["hand-written", "trainforge", *(["trainforge@checkout"] if args.checkout else [])]
    try:
        import lightning  # noqa: F401

        if not args.no_lightning:
            names.append("lightning")
    except ImportError:
        print("PyTorch Lightning not installed: skipped (pip install -e '.[bench]')")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        write_data(data)
        runs = {}
        for name in names:
            work = Path(tmp) / name
            work.mkdir()
            cmd, read = contender(name, args.job, data, work, args.epochs, args.workers)
            checkout = args.checkout if name == "trainforge@checkout" else None
            runs[name] = lambda c=cmd, r=read, w=work, k=checkout: run_once(c, r, w, k)
        records = alternate_records(runs, args.rounds)
        imports = {}
        if args.importtime:
            for name in names:
                work = Path(tmp) / name
                cmd, _ = contender(name, args.job, data, work, 1, args.workers)
                imports[name] = import_table(cmd, work)
    report(args, records, imports)


def report(
    args: argparse.Namespace,
    records: dict[str, list[dict[str, float]]],
    imports: dict[str, list[tuple[str, float]]],
) -> None:
    loads = [r["load"] for recs in records.values() for r in recs]
    print(
        f"\njob {args.job}: {args.epochs} epochs, {os.cpu_count()} CPUs"
        f"{f', {args.threads} torch thread(s)' if args.threads else ''}, load average "
        f"{min(loads):.1f}-{max(loads):.1f}, median of {args.rounds} alternating rounds "
        "(± half the min-max range)"
    )
    keys = ("wall", "loop", "cpu")
    base = {k: median_spread([r[k] for r in records["hand-written"]])[0] for k in keys}
    print(f"{'contender':19} {'process s':>14} {'ratio':>7} {'CPU s':>14} {'ratio':>7} "
          f"{'start-up s':>11} {'s/epoch':>15} {'ratio':>7} {'exit s':>7} "
          f"{'val acc':>8}")  # fmt: skip
    for name, recs in records.items():
        wall, wall_sp = median_spread([r["wall"] for r in recs])
        cpu, cpu_sp = median_spread([r["cpu"] for r in recs])
        loop, loop_sp = median_spread([r["loop"] for r in recs])
        startup = median_spread([r["startup"] for r in recs])[0]
        exit_s = median_spread([r["exit"] for r in recs])[0]
        print(
            f"{name:19} {wall:7.2f} ±{wall_sp:4.0%} {wall / base['wall']:6.2f}x "
            f"{cpu:7.2f} ±{cpu_sp:4.0%} {cpu / base['cpu']:6.2f}x {startup:11.2f} "
            f"{loop / args.epochs:7.3f} ±{loop_sp:4.0%} {loop / base['loop']:6.2f}x "
            f"{exit_s:7.2f} {recs[-1]['acc']:8.4f}"
        )
    for name, table in imports.items():
        print(f"\npython -X importtime, {name} (1 epoch): " + ", ".join(
            f"{module} {seconds:.2f} s" for module, seconds in table
        ))  # fmt: skip


if __name__ == "__main__":
    main()
