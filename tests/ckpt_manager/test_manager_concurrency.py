"""Registrations from several processes at the same moment never lose an entry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from manager_testing import REPO, read_json, train

from trainforge.checkpoint.format import load_checkpoint, save_checkpoint

WORKERS = 6

# Each worker imports everything first, then waits for a common start time, so the
# registrations really overlap instead of being spread out by torch's import time.
WORKER = """
import sys, time
from trainforge.ckpt.registry import Registry
checkpoint, name, registry, start = sys.argv[1:5]
while time.time() < float(start):
    time.sleep(0.005)
result = Registry(registry).register(checkpoint, name, evaluate=False)
print(result["version"])
"""


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """WORKERS distinct checkpoints (distinct checksums) of one real run."""
    root = tmp_path_factory.mktemp("concurrency")
    result = train(root / "run")
    state = load_checkpoint(result.run_dir / "checkpoints" / "best.pth")
    out = []
    for i in range(WORKERS):
        state["created"] = float(i)
        out.append(save_checkpoint(state, root / "run" / "checkpoints" / f"copy_{i}.pth"))
    return out


def test_parallel_registrations_all_land(checkpoints: list[Path], tmp_path: Path) -> None:
    registry = tmp_path / "models"
    start = time.time() + 8.0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ckpt), "shared", str(registry), str(start)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ckpt in checkpoints
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    versions = sorted(out.strip() for out, _ in outputs)
    expected = sorted(["1.0.0", *(f"1.{i}.0" for i in range(1, WORKERS))])
    assert versions == expected

    index = read_json(registry / "registry.json")
    entries = index["models"]["shared"]["versions"]
    assert sorted(entries) == expected
    assert len({e["checksum"] for e in entries.values()}) == WORKERS
    for version, entry in entries.items():
        folder = registry / entry["path"]
        assert folder.name == f"shared_v{version}"
        assert (folder / "checkpoint.pth").is_file() and (folder / "model_card.md").is_file()
    assert not list(registry.glob(".*tmp*")), "no temporary files left behind"
