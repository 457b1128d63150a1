"""nan_policy under --distributed: the ranks agree on a non-finite step, and a rollback
returns every rank to rank 0's last checkpoint together."""

from __future__ import annotations

import json
from pathlib import Path

from ddp_helpers import records, run

CONFIG = """\
model:
  architecture: mlp
  hidden_sizes: [32]
data:
  train_path: builtin:digits
  batch_size: 32
training:
  epochs: 2
  optimizer: sgd
  learning_rate: {lr}
  nan_policy: rollback
  rollback_lr_factor: 0.5
  max_consecutive_skips: {retries}
checkpointing:
  monitor: val_accuracy
  save_every_n_steps: 2
logging:
  progress_bar: off
  log_every_n_steps: 1
reproducibility:
  seed: 3
  deterministic: true
"""


def _alerts(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "logs" / "alerts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_rollback_under_ddp_returns_every_rank_to_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG.format(lr=1e4, retries=5))
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    run_dir = tmp_path / "run"
    rules = [a["rule"] for a in _alerts(run_dir)]
    assert rules.count("rollback") >= 1 and rules.count("nonfinite") == rules.count("rollback")
    rollback = next(a for a in _alerts(run_dir) if a["rule"] == "rollback")
    steps = [r for r in records(run_dir) if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, len(steps) + 1))  # none twice
    assert {r["lr"] for r in steps if r["step"] <= rollback["step"]} == {1e4}
    assert {r["lr"] for r in steps if r["step"] > rollback["step"]} <= {5e3, 2.5e3, 1.25e3}
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["world_size"] == 2


def test_ddp_rollback_gives_up_together(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG.format(lr=1e8, retries=2))
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert done.returncode == 3, done.stderr
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["status"] == "failed"
    assert "3 rollbacks in a row" in meta["error"] or "before any checkpoint" in meta["error"]
