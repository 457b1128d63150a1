"""Resuming distributed runs: bit for bit with the same world size (checked by
``verify-resume --n_gpus``, real SIGKILLs of the launcher and every worker), and at the
right place in the epoch, with a warning, in another world size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ddp_helpers import env, records, run, write_config


@pytest.mark.slow
def test_killed_and_resumed_ddp_run_is_bit_exact(tmp_path: Path) -> None:
    # checkpoints at every step: most kills land after one, the others test the rest
    write_config(tmp_path, epochs=2, batch_size=64, extra="checkpointing:\n  save_every_n_steps: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "trainforge", "verify-resume", "--config", "c.yaml"]
        + ["--n_gpus", "2", "--kills", "2", "--seed", "3", "--output", "verify"],
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
