"""The monitor on a 1,000,000-line metrics.json: --analyze and --plot_curves, end to end.

Writes a synthetic run folder (1,000,000 records, ~260 MB: step records with the writer's own
encoding, a validation and an epoch record every 1,000 steps, a resource record every 500)
and times each command as a user runs it (a fresh ``python training_monitor.py`` process,
start-up included), plus the log reader alone in-process and the cost of one live rule
evaluation. The commands alternate within each round (the order rotating); each figure is
the median over ``--rounds`` of the wall-clock and the CPU seconds (user + system, from
``os.wait4``) of the child process, with the load average beside it: the development machine
is shared, and CPU seconds are what contention disturbs least. Target: <= 2 s wall.

    .venv/bin/python benchmarks/bench_monitor.py [--lines 1000000] [--rounds 3] [--keep DIR]

With ``--keep DIR`` the run is written there once and reused by later calls. With
``--baseline SRC`` (another source tree of trainforge, e.g. ``git worktree add /tmp/base
main`` or a ``git archive`` of it) the same two commands of that tree run in the same rounds,
so that a busy machine's noise hits both alike and their ratio means something.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trainforge.logging import encode_record

ROOT = Path(__file__).resolve().parents[1]


def write_run(run: Path, lines: int) -> int:
    """A run folder whose logs/metrics.json has ``lines`` records; returns its size."""
    logs = run / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    steps_per_epoch = 1000
    t = 1.8e9
    out = []
    step = 0
    written = 0
    while written < lines:
        step += 1
        epoch = (step - 1) // steps_per_epoch + 1
        t += 0.05
        loss = 2.3 * math.exp(-step / 200_000) + 0.05 * rng.random()
        out.append(
            encode_record(
                {
                    "type": "step",
                    "schema_version": 1,
                    "time": t,
                    "step": step,
                    "epoch": epoch,
                    "loss": loss,
                    "lr": 1e-3 * (0.5 + 0.5 * math.cos(math.pi * step / 1e6)),
                    "grad_norm": 1.0 + 0.2 * rng.random(),
                    "samples_per_sec": 2000.0 + rng.random(),
                    "data_wait": 0.05 * rng.random(),
                }
            )
        )
        written += 1
        if step % 500 == 0 and written < lines:
            out.append(
                encode_record(
                    {
                        "type": "resources",
                        "schema_version": 1,
                        "time": t,
                        "step": step,
                        "cpu_percent": 95.0,
                        "rss_mb": 2048.0,
                        "system_memory_percent": 40.0,
                    }
                )
            )
            written += 1
        if step % steps_per_epoch == 0 and written + 1 < lines:
            metrics = {"val_loss": loss * 1.1, "val_accuracy": min(0.99, 1 - loss / 3)}
            out.append(
                encode_record(
                    {
                        "type": "validation",
                        "schema_version": 1,
                        "time": t,
                        "step": step,
                        "epoch": epoch,
                        "metrics": metrics,
                    }
                )
            )
            out.append(
                encode_record(
                    {
                        "type": "epoch",
                        "schema_version": 1,
                        "time": t,
                        "step": step,
                        "epoch": epoch,
                        "metrics": {
                            "train_loss": loss,
                            "train_accuracy": min(0.99, 1 - loss / 3.2),
                            "lr": 1e-3,
                            **metrics,
                        },
                    }
                )
            )
            written += 2
    path = logs / "metrics.json"
    path.write_text("\n".join(out) + "\n")
    (run / "metadata.json").write_text(json.dumps({"status": "completed"}))
    (run / "config.yaml").write_text("training:\n  epochs: 1000\n")
    return path.stat().st_size


def timed(command: list[str], cwd: Path = ROOT) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of a child process run in ``cwd``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status})")
    return wall, usage.ru_utime + usage.ru_stime


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def existing(run: Path, lines: int) -> int | None:
    """The size of a run written earlier with ``lines`` records, if there is one."""
    log = run / "logs" / "metrics.json"
    if not log.is_file():
        return None
    with log.open("rb") as f:
        if sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) != lines:
            return None
    return log.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument(
        "--baseline", type=Path, help="another trainforge source tree to time alongside"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        run = base / "bench_run"
        size = existing(run, args.lines) if args.keep else None
        reused = size is not None
        if size is None:
            size = write_run(run, args.lines)
        log = run / "logs" / "metrics.json"
        print(f"log: {args.lines:,} lines, {size / 1e6:.0f} MB{' (reused)' if reused else ''}")
        script = [sys.executable, str(ROOT / "training_monitor.py")]
        commands = {
            "--analyze": [
                *script,
                "--analyze",
                "--checkpoint_dir",
                str(run),
                "--output",
                str(base / "diagnostics.html"),
            ],
            "--plot_curves": [
                *script,
                "--plot_curves",
                "--log_file",
                str(log),
                "--output",
                str(base / "curves.png"),
            ],
            "python start-up only": [sys.executable, "-c", "import trainforge.cli.main"],
        }
        folders = dict.fromkeys(commands, ROOT)
        if args.baseline:
            base_script = str(args.baseline.resolve() / "training_monitor.py")
            for name in ("--analyze", "--plot_curves"):
                # Run from the tree itself: its trainforge comes first on sys.path.
                commands[f"baseline {name}"] = [
                    sys.executable,
                    base_script,
                    *commands[name][2:-1],
                    str(base / f"baseline{Path(commands[name][-1]).suffix}"),
                ]
                folders[f"baseline {name}"] = args.baseline.resolve()
        print(f"before: {load()}")
        names = list(commands)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        reader: list[float] = []
        from trainforge.monitor import read_log

        for r in range(args.rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(timed(commands[name], folders[name]))
            started = time.perf_counter()
            read_log(log)
            reader.append(time.perf_counter() - started)
        for name, values in times.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            rounds = ", ".join(f"{v[0]:.2f}/{v[1]:.2f}" for v in values)
            verdict = ""
            if name.startswith("--"):
                verdict = "  target <= 2 s: " + ("met" if wall <= 2.0 else "NOT met")
            print(
                f"{name:<22} median {wall:.2f} s wall, {cpu:.2f} s CPU"
                f"  (rounds wall/CPU: {rounds}){verdict}"
            )
        if args.baseline:
            for name in ("--analyze", "--plot_curves"):
                ratio = [
                    a[0] / b[0] for a, b in zip(times[name], times[f"baseline {name}"], strict=True)
                ]
                cpu = [
                    a[1] / b[1] for a, b in zip(times[name], times[f"baseline {name}"], strict=True)
                ]
                print(
                    f"{name} / baseline: wall x{statistics.median(ratio):.2f}, "
                    f"CPU x{statistics.median(cpu):.2f} (medians of per-round ratios)"
                )
        print(f"{'read_log in-process':<22} median {statistics.median(reader):.2f} s")
        live_check_cost()
        print(f"after: {load()}")


def live_check_cost() -> None:
    """What one live evaluation of every rule costs a run that has logged 10,000 step
    records (the live monitor spaces evaluations so they stay under 5% of the run's time)."""
    from trainforge.config.monitoring import RulesConfig
    from trainforge.health import SeriesBuilder, evaluate

    builder = SeriesBuilder()
    for i in range(1, 10_001):
        builder.add(
            {
                "type": "step",
                "step": i,
                "epoch": 1 + i // 500,
                "loss": 1 / i,
                "lr": 1e-3,
                "grad_norm": 1.0,
                "data_wait": 0.01,
            }
        )
    rules = RulesConfig()
    times = []
    for _ in range(20):
        started = time.perf_counter()
        evaluate(builder.build(), rules)
        times.append(time.perf_counter() - started)
    print(f"{'live check, 10k steps':<22} median {1000 * statistics.median(times):.1f} ms")


if __name__ == "__main__":
    main()
