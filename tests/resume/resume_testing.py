"""Shared pieces of the resume tests: small configs, run folders read back, real kills."""

from __future__ import annotations

import copy
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from trainforge.checkpoint.format import load_checkpoint
from trainforge.verify import Launch, launch, train_command, wait_for_step

DIGITS: dict[str, Any] = {
    "model": {"architecture": "simple_cnn", "channels": [8, 16], "dropout": 0.1},
    "data": {"train_path": "builtin:digits", "batch_size": 64},
    "training": {"epochs": 3, "learning_rate": 0.003},
    "lr_scheduler": {"type": "cosine", "warmup_epochs": 0.5},
    "checkpointing": {"monitor": ["val_accuracy"], "save_every_n_steps": 5},
    "logging": {"log_every_n_steps": 1, "progress_bar": "off", "tensorboard": False},
    "reproducibility": {"seed": 3, "deterministic": True},
}
DIGITS_STEPS = 3 * 26  # 1617 training samples / 64 -> 26 batches per epoch

# Fields that measure time or name places; everything else must match exactly.
VOLATILE = {"time", "samples_per_sec", "data_wait", "duration", "run_dir", "path"}
# A resumed run logs "resume" instead of "start". Checkpoint events are compared too: they are
# logged before the checkpoint's state is taken, so a resume keeps them.
BOOKKEEPING_EVENTS = {"start", "resume"}


def config(**sections: dict[str, Any]) -> dict[str, Any]:
    """DIGITS with some sections' keys replaced."""
    out = copy.deepcopy(DIGITS)
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def read_records(run: Path) -> list[dict[str, Any]]:
    lines = (run / "logs" / "metrics.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def comparable(
    records: list[dict[str, Any]], ignore: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Records as they must agree between an interrupted and an uninterrupted run."""
    out = []
    for record in records:
        if record["type"] == "event" and record.get("event") in BOOKKEEPING_EVENTS | ignore:
            continue
        kept = {k: v for k, v in record.items() if k not in VOLATILE}
        if isinstance(kept.get("metrics"), dict):
            kept["metrics"] = {k: v for k, v in kept["metrics"].items() if k not in VOLATILE}
        out.append(kept)
    return out


def weights(run: Path, name: str = "last.pth") -> dict[str, torch.Tensor]:
    return dict(load_checkpoint(run / "checkpoints" / name)["model"])


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"tensors differ after resume: {different}"


def assert_same_history(
    reference: Path, resumed: Path, ignore: frozenset[str] = frozenset()
) -> None:
    """``ignore``: event kinds the interruption itself adds (a SIGTERM's extra save)."""
    ref = comparable(read_records(reference), ignore)
    got = comparable(read_records(resumed), ignore)
    assert len(got) == len(ref), (len(got), len(ref))
    for i, (r, g) in enumerate(zip(ref, got, strict=True)):
        assert r == g, f"record {i} differs:\nreference {r}\nresumed   {g}"
    steps = [r["step"] for r in read_records(resumed) if r["type"] == "step"]
    assert steps == sorted(set(steps)), "duplicated or out-of-order step records"


def tensorboard_steps(run: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "logs" / "tensorboard"))
    acc.Reload()
    return [event.step for event in acc.Scalars(tag)]


def child_env() -> dict[str, str]:
    # Same thread count as this test process (conftest pins 1), so runs are comparable.
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def start(config_path: Path, run: Path, *, resume: bool, log: Path | None = None) -> Launch:
    command = train_command(config_path, run, resume="auto" if resume else None)
    return launch(command, log or run.parent / f"{run.name}.log", child_env())


def kill_at_random_steps(
    config_path: Path, run: Path, total_steps: int, kills: int, seed: int
) -> list[int]:
    """Train in a child process, SIGKILLing it ``kills`` times at seeded random moments
    (a random step, then a random few milliseconds), each followed by ``--resume auto``."""
    rng = random.Random(seed)
    targets = sorted(rng.sample(range(1, total_steps), kills))
    killed_at = []
    for number, target in enumerate(targets):
        child = start(config_path, run, resume=number > 0)
        seen = wait_for_step(child, run / "logs" / "metrics.json", target, timeout=120)
        assert seen is not None, f"the run ended before step {target}: {child.tail(3)}"
        time.sleep(rng.uniform(0.0, 0.02))
        child.kill()
        child.wait(60)
        killed_at.append(seen)
    final = start(config_path, run, resume=True)
    assert final.wait(120) == 0, final.tail(5)
    return killed_at
