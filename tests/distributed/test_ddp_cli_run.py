"""A real 2-process CPU run through the CLI: one run folder, half the steps, plain checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from ddp_helpers import records, run, write_config

import trainforge
from trainforge.checkpoint.format import load_checkpoint


def test_two_process_run_then_single_process_resume(tmp_path: Path) -> None:
    write_config(tmp_path)
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("no GPU: running 2 CPU processes with gloo") == 1
    assert done.stdout.count("run folder:") == 1  # rank 0 speaks for the run
    assert "Traceback" not in done.stderr

    run_dir = tmp_path / "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "run"]
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["status"] == "completed"
    assert meta["world_size"] == 2 and meta["backend"] == "gloo"

    recs = records(run_dir)
    n_train = next(r for r in recs if r.get("event") == "start")["train_samples"]
    single_steps = math.ceil(n_train / 64)
    epoch_steps = [r["step"] for r in recs if r["type"] == "epoch"]
    assert epoch_steps == [math.ceil(single_steps / 2), 2 * math.ceil(single_steps / 2)]
    assert len([r for r in recs if r.get("event") == "start"]) == 1  # one writer

    # The checkpoint holds the plain module's keys: it loads like a single-process one.
    last = run_dir / "checkpoints" / "last.pth"
    state = load_checkpoint(last)
    assert not any(k.startswith("module.") for k in state["model"])
    model = trainforge.load_model(last)
    # load_model wraps the network with its preprocessing: the same keys under one prefix
    assert {k.split(".", 1)[1] for k in model.state_dict() if "." in k} >= set(state["model"])
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)

    resumed = trainforge.fit(
        None,  # type: ignore[arg-type]
        ["training.epochs=3"],
        resume=last,
        output=run_dir,
    )
    assert resumed.status == "completed" and resumed.epochs_completed == 3
    # the third epoch runs single-process: all the batches of the unsharded data
    assert resumed.global_step == epoch_steps[-1] + single_steps
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["world_size"] == 1

    # Only rank 0 opens the folder; its refusal reaches the other rank without a traceback.
    again = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    assert [ln for ln in again.stderr.splitlines() if "error:" in ln] == [
        f"trainforge: error: run folder {run_dir} already exists; pass --overwrite to replace "
        f"it or --resume {run_dir} to continue it"
    ]
