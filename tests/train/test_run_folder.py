"""The run folder: layout, refusal, overwrite, lock across processes, metadata, provenance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainforge.errors import RunFolderError
from trainforge.train import run_folder as run_folder_module
from trainforge.train.run_folder import RunFolder
from trainforge.train.system import command_line, git_info, package_versions, system_info


def test_creates_the_layout_with_nested_dirs(tmp_path: Path) -> None:
    nested = tmp_path / "run" / "ckpts" / "deep"
    with RunFolder(tmp_path / "run", checkpoint_dir="ckpts/deep", log_dir="my_logs") as run:
        assert run.checkpoint_dir == nested and nested.is_dir()
        assert run.log_dir == tmp_path / "run" / "my_logs" and run.log_dir.is_dir()
        assert run.lock_path.is_file() and run.locked
        run.write_config("model:\n  architecture: mlp\n")
    assert (tmp_path / "run" / "config.yaml").read_text() == "model:\n  architecture: mlp\n"
    assert not run.locked
    run.release()  # idempotent


def test_existing_run_is_refused_without_a_flag(tmp_path: Path) -> None:
    with RunFolder(tmp_path / "run") as run:
        run.update_metadata(status="completed")
    with pytest.raises(RunFolderError) as err:
        RunFolder(tmp_path / "run")
    root = tmp_path / "run"
    assert str(err.value) == (
        f"run folder {root} already exists; pass --overwrite to replace it or --resume {root} to continue it"
    )
    # The refusal itself left the old run untouched.
    assert json.loads((root / "metadata.json").read_text()) == {"status": "completed"}


def test_overwrite_replaces_and_resume_keeps(tmp_path: Path) -> None:
    root = tmp_path / "run"
    with RunFolder(root) as run:
        run.update_metadata(status="completed", seed=1)
        (run.checkpoint_dir / "last.pth").write_bytes(b"x")
    with RunFolder(root, resume=True) as run:
        assert run.metadata == {"status": "completed", "seed": 1}
        assert (run.checkpoint_dir / "last.pth").exists()
    with RunFolder(root, overwrite=True) as run:
        assert run.metadata == {}
        assert not (root / "metadata.json").exists()
        assert not (run.checkpoint_dir / "last.pth").exists()
        assert run.checkpoint_dir.is_dir() and run.log_dir.is_dir()


def test_overwrite_refuses_a_folder_trainforge_did_not_make(tmp_path: Path) -> None:
    root = tmp_path / "thesis"
    root.mkdir()
    (root / "chapter1.tex").write_text("precious")
    with pytest.raises(
        RunFolderError, match=r"does not look like a trainforge run folder.*chapter1\.tex"
    ):
        RunFolder(root, overwrite=True)
    with pytest.raises(RunFolderError, match="not empty and is not a trainforge run folder"):
        RunFolder(root)
    assert sorted(p.name for p in root.iterdir()) == ["chapter1.tex"]


def test_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    with RunFolder(tmp_path) as run:
        assert run.checkpoint_dir.is_dir()


# Loads run_folder.py by path: importing the trainforge.train package would pull in torch
# (seconds) for a child that only needs to hold a lock.
_HOLD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("run_folder", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.RunFolder(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_held_by_another_process_until_it_is_killed(tmp_path: Path) -> None:
    root = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(root), run_folder_module.__file__],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError, match=rf"in use by pid {holder.pid} on "):
            RunFolder(root, resume=True)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # The kernel released the flock with the process: no stale lock.
        with RunFolder(root, resume=True) as run:
            assert json.loads(run.lock_path.read_text())["pid"] == os.getpid()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_contradictory_flags(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="contradict"):
        RunFolder(tmp_path, overwrite=True, resume=True)


def test_metadata_updates_are_atomic_and_merge(tmp_path: Path) -> None:
    with RunFolder(tmp_path / "run") as run:
        run.update_metadata(status="running", start_time=time.time(), best=float("nan"))
        run.update_metadata(status="completed", path=tmp_path)
        on_disk = json.loads(run.metadata_path.read_text())
        assert on_disk == run.metadata
        assert on_disk["status"] == "completed" and on_disk["best"] is None
        assert on_disk["path"] == str(tmp_path)
        # No temp files are left next to it.
        assert sorted(p.name for p in run.root.iterdir()) == [
            ".lock",
            "checkpoints",
            "logs",
            "metadata.json",
        ]
        run.metadata["status"] = "mutated copy"
        assert run.metadata["status"] == "completed"


def test_requirements_list_the_environment(tmp_path: Path) -> None:
    with RunFolder(tmp_path / "run") as run:
        lines = run.write_requirements().read_text().splitlines()
    assert any(line.startswith("torch==") for line in lines)
    assert all("==" in line for line in lines)
    names = [line.split("==")[0].lower() for line in lines]
    assert names == sorted(names)


def test_system_info_and_provenance() -> None:
    info = system_info()
    for key in (
        "hostname",
        "platform",
        "python",
        "cpu_model",
        "cpu_count",
        "ram_total_gb",
        "torch",
        "torch_threads",
        "cuda_available",
        "gpus",
        "nvidia_driver",
    ):
        assert key in info
    assert info["ram_total_gb"] > 0 and isinstance(info["gpus"], list)
    json.dumps(info)  # goes straight into metadata.json
    assert "torch" in package_versions()
    assert command_line()
    outside = git_info("/")
    assert outside == {"commit": None, "dirty": None}
