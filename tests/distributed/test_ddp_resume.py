"""Resuming distributed runs: bit for bit with the same world size (checked by
``verify-resume --n_gpus``, real SIGKILLs of the launcher and every worker), and at the
right place in the epoch, with a warning, in another world size."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from ddp_helpers import env, records, run, write_config


@pytest.mark.slow
def test_killed_and_resumed_ddp_run_is_bit_exact(tmp_path: Path) -> None:
    # checkpoints at every step: most kills land after one, the others test the rest
    write_config(
        tmp_path, epochs=2, batch_size=64, extra="checkpointing:\n  save_every_n_steps: 1\n"
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "trainforge", "verify-resume", "--config", "c.yaml"),
            *("--n_gpus", "2", "--kills", "2", "--seed", "3", "--output", "verify"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SIGKILL after step") == 2, done.stdout
    assert "MATCH: final weights are bitwise identical" in done.stdout
    interrupted = records(tmp_path / "verify" / "interrupted")
    assert sum(1 for r in interrupted if r.get("event") == "resume") == 2


def test_resume_in_another_world_size_continues_at_the_same_sample(tmp_path: Path) -> None:
    write_config(tmp_path, epochs=1, batch_size=64)
    first = run(
        tmp_path,
        "--distributed",
        "--n_gpus",
        "2",
        "--output",
        "run",
        "--set",
        "training.max_steps=3",
    )
    assert first.returncode == 0, first.stderr
    # one process: the 3 steps of 2 x 64 samples are this world's first 6 batches
    done = run(tmp_path, "--resume", "run/checkpoints/last.pth", "--set", "training.max_steps=null")
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    n_train = next(r for r in records(tmp_path / "run") if r.get("event") == "start")[
        "train_samples"
    ]
    assert "resuming a 2-process checkpoint in 1 process(es)" in out, out
    assert f"continues at sample 384 of {n_train}" in out and "order of the samples changed" in out
    recs = records(tmp_path / "run")
    epoch = [r for r in recs if r["type"] == "epoch"]
    single_batches = -(-n_train // 64)
    assert [r["step"] for r in epoch] == [3 + single_batches - 6]
    resumed_steps = [r["step"] for r in recs if r["type"] == "step" and r["step"] > 3]
    assert resumed_steps == list(range(4, 3 + single_batches - 6 + 1))


@pytest.mark.parametrize(
    ("batch", "saved", "world", "expected"),
    [
        (6, 1, 2, (3, 384)),  # 6 x 64 samples = 3 batches of 2 x 64
        (7, 1, 2, (3, 448)),  # not on a boundary: back to the one before (64 seen twice)
        (3, 2, 1, (6, 384)),
        (3, 2, 2, (3, 384)),  # same world: unchanged
        (12, 1, 2, (6, 700)),  # the epoch was done: done here too
        (5, 2, 4, (2, 640)),
    ],
)
def test_rescaled_position(batch: int, saved: int, world: int, expected: tuple[int, int]) -> None:
    from trainforge.train.position import rescale_batch

    per_rank = math.ceil(700 / world)
    n_batches = math.ceil(per_rank / 64)
    got = rescale_batch(batch, saved, world, 64, 700, n_batches)
    assert got == (expected if expected[1] < 700 else (n_batches, 700))
