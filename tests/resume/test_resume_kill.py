"""Real SIGKILLs of `python -m trainforge train` at random moments, then `--resume auto`:
the final weights must be bitwise those of a run that was never interrupted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from fixtures import make_image_folder
from resume_testing import (
    DIGITS_STEPS,
    assert_same_history,
    assert_same_weights,
    config,
    kill_at_random_steps,
    read_records,
    start,
    tensorboard_steps,
    write_config,
)

import trainforge
from trainforge.checkpoint.format import is_valid_checkpoint
from trainforge.cli.main import main
from trainforge.verify import first_difference, plan_kills, wait_for_step


@pytest.mark.slow
def test_sigkills_on_in_memory_data_resume_bit_exactly(tmp_path: Path) -> None:
    cfg = config(logging={"tensorboard": True, "log_every_n_steps": 1})
    path = write_config(tmp_path / "digits.yaml", cfg)
    reference = trainforge.fit(path, output=tmp_path / "reference").run_dir
    run = tmp_path / "killed"
    killed_at = kill_at_random_steps(path, run, DIGITS_STEPS, kills=3, seed=11)
    assert len(killed_at) == 3
    assert_same_weights(reference, run)
    assert_same_history(reference, run)
    meta = (run / "metadata.json").read_text()
    assert '"status": "completed"' in meta and '"resumed_from"' in meta
    # Each resume purged the killed attempt's later events: one point per step, in order.
    for tag in ("step/loss", "val_accuracy", "train_loss"):
        assert tensorboard_steps(run, tag) == tensorboard_steps(reference, tag), tag
    assert tensorboard_steps(run, "step/loss") == list(range(1, DIGITS_STEPS + 1))


@pytest.mark.slow
def test_sigkills_on_an_augmented_image_folder_with_workers(tmp_path: Path) -> None:
    images = make_image_folder(tmp_path / "images", n_per_class=24, size=16)
    cfg = config(
        data={
            "train_path": str(images),
            "batch_size": 32,
            "num_workers": 2,
            "augmentation": {"random_flip": True, "random_crop": True},
        },
        training={"epochs": 2, "learning_rate": 0.003},
        checkpointing={"save_every_n_steps": 3},
    )
    path = write_config(tmp_path / "images.yaml", cfg)
    reference = trainforge.fit(path, output=tmp_path / "reference")
    total = reference.global_step
    assert total >= 10
    run = tmp_path / "killed"
    kill_at_random_steps(path, run, total, kills=2, seed=5)
    assert_same_weights(reference.run_dir, run)
    assert_same_history(reference.run_dir, run)


@pytest.mark.slow
def test_a_kill_inside_a_checkpoint_write_leaves_a_resumable_run(tmp_path: Path) -> None:
    # A bigger model and a save after every step make the write window wide enough to hit.
    cfg = config(
        model={"channels": [32, 64]},
        training={"epochs": 2},
        checkpointing={"save_every_n_steps": 1},
        logging={"log_every_n_steps": 5},
    )
    path = write_config(tmp_path / "digits.yaml", cfg)
    run = tmp_path / "killed"
    checkpoints = run / "checkpoints"
    caught = None
    for attempt in range(4):
        child = start(path, run, resume=attempt > 0)
        assert wait_for_step(child, run / "logs" / "metrics.json", 1, timeout=120) is not None
        deadline = time.monotonic() + 20
        while caught is None and child.running() and time.monotonic() < deadline:
            temps = [p for p in checkpoints.iterdir() if p.name.startswith(".last.pth.tmp-")]
            if temps:
                child.kill()
                caught = temps[0]
        child.wait(60)
        if caught is not None and caught.exists():
            break  # the kill landed while the temporary file was being written
        caught = None
    assert caught is not None, "never caught a checkpoint write in progress"
    assert is_valid_checkpoint(checkpoints / "last.pth")  # the previous one is intact
    final = start(path, run, resume=True)
    assert final.wait(120) == 0, final.tail(5)
    assert not caught.exists()  # the dead writer's leftover is cleaned up on resume
    reference = trainforge.fit(path, output=tmp_path / "reference").run_dir
    assert_same_weights(reference, run)
    assert_same_history(reference, run)


@pytest.mark.slow
def test_verify_resume_command_reports_a_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "digits.yaml", config(training={"epochs": 2}))
    code = main(
        [
            "verify-resume",
            "--config",
            str(path),
            "--kills",
            "2",
            "--seed",
            "4",
            "--output",
            str(tmp_path / "verify"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("kill ") == 2 and "SIGKILL after step" in out
    assert "MATCH: final weights are bitwise identical" in out and " s)" in out
    assert (tmp_path / "verify" / "reference" / "checkpoints" / "last.pth").is_file()
    records = read_records(tmp_path / "verify" / "interrupted")
    assert sum(1 for r in records if r.get("event") == "resume") >= 1


def test_verify_resume_names_the_first_differing_tensor() -> None:
    a = {"conv.weight": torch.ones(2, 2), "fc.bias": torch.zeros(3)}
    same = {k: v.clone() for k, v in a.items()}
    assert first_difference(a, same) is None
    b = {"conv.weight": torch.ones(2, 2), "fc.bias": torch.tensor([0.0, 0.25, -0.5])}
    diff = first_difference(a, b)
    assert diff is not None and diff.name == "fc.bias" and diff.max_abs_diff == 0.5
    shaped = first_difference(a, {**a, "conv.weight": torch.ones(3)})
    assert shaped is not None and shaped.name == "conv.weight" and shaped.max_abs_diff is None


def test_verify_resume_kill_plan_is_seeded_and_inside_the_run() -> None:
    plan = plan_kills(100, 3, seconds=2.0, seed=7)
    assert plan == plan_kills(100, 3, seconds=2.0, seed=7)
    steps = [k.target_step for k in plan]
    assert steps == sorted(set(steps)) and all(1 <= s < 100 for s in steps)
    assert all(0.0 <= k.delay_s <= 0.02 for k in plan)
    assert plan != plan_kills(100, 3, seconds=2.0, seed=8)


def test_verify_resume_refuses_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "bad.yaml", config(training={"epochs": 0}))
    assert main(["verify-resume", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training.epochs" in err[0]
