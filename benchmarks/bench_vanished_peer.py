"""How long a 2-rank CPU run (``--distributed --n_gpus 2``, gloo) takes to notice a vanished
rank: SIGKILL (a dead process) or SIGSTOP (a hung machine) of rank 0 or rank 1 after a few
steps. Prints, per case, the seconds from the signal until the surviving rank exited (its
verdict, rank 0's save and its one line) and until the launcher exited (+ its 5 s grace for
the other ranks), the median over the rounds; the cases alternate within each round.

    python benchmarks/bench_vanished_peer.py --rounds 2 --heartbeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
model: {{architecture: simple_cnn, channels: [8, 16]}}
data: {{train_path: "builtin:digits", batch_size: 16}}
training: {{epochs: 50, learning_rate: 0.003, heartbeat_timeout_s: {heartbeat},
           distributed_timeout_s: 600}}
logging: {{progress_bar: off, log_every_n_steps: 1}}
"""


def one(folder: Path, victim: int, how: signal.Signals) -> dict[str, float]:
    folder.mkdir(parents=True)
    (folder / "c.yaml").write_text(CONFIG.format(heartbeat=ARGS.heartbeat))
    cmd = [sys.executable, str(ROOT / "training_orchestrator.py"), "--config", "c.yaml"]
    cmd += ["--distributed", "--n_gpus", "2", "--output", "run"]
    out = (folder / "out.txt").open("w")
    launcher = subprocess.Popen(
        cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env={**os.environ}
    )
    log = folder / "run" / "logs" / "metrics.json"
    while not log.exists() or '"step": 3,' not in log.read_text():
        assert launcher.poll() is None, (folder / "out.txt").read_text()
        time.sleep(0.1)
    workers = [
        p for p in psutil.Process(launcher.pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]
    workers.sort(key=lambda p: (p.create_time(), p.pid))
    survivor = workers[1 - victim]
    started = time.monotonic()
    workers[victim].send_signal(how)
    psutil.wait_procs([survivor], timeout=900)
    survivor_s = time.monotonic() - started
    code = launcher.wait(900)
    launcher_s = time.monotonic() - started
    assert code == 5, (code, (folder / "out.txt").read_text())
    return {"survivor_s": survivor_s, "launcher_s": launcher_s}


def main() -> None:
    cases = {
        f"{how.name} rank {victim}": (victim, how)
        for how in (signal.SIGKILL, signal.SIGSTOP)
        for victim in (1, 0)
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ARGS.rounds):
            for i, (name, (victim, how)) in enumerate(cases.items()):
                results[name].append(one(Path(tmp) / f"{r}_{i}", victim, how))
    load = os.getloadavg()
    print(f"heartbeat_timeout_s {ARGS.heartbeat:g}, {ARGS.rounds} round(s), load {load[0]:.2f}")
    summary = {
        name: {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
        for name, rows in results.items()
    }
    for name, row in summary.items():
        print(
            f"{name:>16}: survivor exits {row['survivor_s']:5.1f} s, launcher {row['launcher_s']:5.1f} s"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    ARGS = parser.parse_args()
    main()
