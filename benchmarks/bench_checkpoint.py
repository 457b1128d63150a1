"""Checkpoint cost: save/load MB/s of trainforge's checkpoint file vs plain torch.save/load, the
step-time stall of saving every N steps, and a second file written as a copy vs serialised.

Asynchronous writes are measured here with a prototype (snapshot, then the same write on a
background thread) to decide whether trainforge should offer them. The state is what a run saves: the benchmark MLP (64→1024→1024→10) with its Adam moments
(13.5 MB), or ``--width`` for a bigger one. trainforge's save adds a value checksum, the
checkpoint-safety check, fsync and an atomic rename; its load verifies the checksum. Rounds
alternate; medians are reported with ± half the min-max range.

    .venv/bin/python benchmarks/bench_checkpoint.py [--rounds 7] [--every 20] [--width 1024]
    .venv/bin/python benchmarks/bench_checkpoint.py --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from rounds import alternate_records, median_spread
from torch import nn

from trainforge.checkpoint.format import load_checkpoint, save_checkpoint
from trainforge.train.checkpoint_files import write_checkpoint


def model_and_optimizer(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
        nn.Linear(width, 10),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_steps(model, optimizer, 1)
    return model, optimizer


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def state_of(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 0}


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def io_contenders(state: dict[str, Any], folder: Path) -> dict[str, Any]:
    plain, ours, copy = folder / "plain.pth", folder / "ours.pth", folder / "copy.pth"
    torch.save(state, plain)
    save_checkpoint(state, ours)
    return {
        "torch.save": lambda: {"s": timed(lambda: torch.save(state, plain))},
        "trainforge save": lambda: {"s": timed(lambda: save_checkpoint(state, ours))},
        "trainforge 2nd file (copy)": lambda: {
            "s": timed(lambda: write_checkpoint(state, copy, copy_of=ours))
        },
        "torch.load": lambda: {"s": timed(lambda: torch.load(plain, weights_only=True))},
        "trainforge load (verified)": lambda: {"s": timed(lambda: load_checkpoint(ours))},
    }


def snapshot(value: Any) -> Any:
    """A copy of the state that training can no longer change (tensors cloned)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot(item) for item in value)
    return value


def stall_contenders(width: int, steps: int, every: int, folder: Path) -> dict[str, Any]:
    """Mean step time with no saves, synchronous saves, and a prototype of asynchronous ones
    (snapshot at the step boundary, the checked, checksummed, atomic write on a thread)."""
    model, optimizer = model_and_optimizer(width)

    def run(mode: str) -> dict[str, float]:
        pool = ThreadPoolExecutor(max_workers=1)
        pending: Future[Path] | None = None
        start = time.perf_counter()
        for _ in range(steps // every):
            train_steps(model, optimizer, every)
            if mode == "sync":
                save_checkpoint(state_of(model, optimizer), folder / "last.pth")
            elif mode == "async":
                if pending is not None:
                    pending.result()  # one write in flight at a time; errors surface here
                state = snapshot(state_of(model, optimizer))
                pending = pool.submit(save_checkpoint, state, folder / "last.pth")
        if pending is not None:
            pending.result()  # the run's end waits for its last checkpoint
        pool.shutdown()
        return {"s": (time.perf_counter() - start) / steps}

    return {
        "steps, no saves": lambda: run("none"),
        f"save every {every}, synchronous": lambda: run("sync"),
        f"save every {every}, async thread": lambda: run("async"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--every", type=int, default=20, help="steps between saves")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="3 rounds, 60 steps")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 3, 60
    model, optimizer = model_and_optimizer(args.width)
    state = state_of(model, optimizer)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_checkpoint(state, folder / "size.pth")
        mb = (folder / "size.pth").stat().st_size / 1e6
        io = alternate_records(io_contenders(state, folder), args.rounds)
        stall = alternate_records(
            stall_contenders(args.width, args.steps, args.every, folder), args.rounds
        )
    print(f"\ncheckpoint of {mb:.1f} MB, median of {args.rounds} alternating rounds")
    print(f"{'operation':30} {'ms':>14} {'MB/s':>8}")
    for name, recs in io.items():
        s, spread = median_spread([r["s"] for r in recs])
        print(f"{name:30} {s * 1e3:8.1f} ±{spread:4.0%} {mb / s:8.0f}")
    print(f"\n{'training':30} {'ms/step':>14} {'stall':>8}")
    base = median_spread([r["s"] for r in next(iter(stall.values()))])[0]
    for name, recs in stall.items():
        s, spread = median_spread([r["s"] for r in recs])
        print(f"{name:30} {s * 1e3:8.2f} ±{spread:4.0%} {s / base - 1:+8.1%}")


if __name__ == "__main__":
    main()
