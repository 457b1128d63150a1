"""The trial forkserver imports, once, what the study's runs would otherwise import in every
trial: chosen from the base config, and really present in a process forked from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tune_helpers import ROOT, env

from trainforge.config import load_config
from trainforge.tune.preload import FORKSERVER_MAIN, preload_modules


def test_bundled_data_and_tensorboard_are_preloaded_when_the_base_config_uses_them() -> None:
    base = load_config({"model": {"architecture": "mlp"}, "data": {"train_path": "builtin:digits"}})
    modules = preload_modules(base)
    assert modules[0] == FORKSERVER_MAIN  # arms the parent-death signal before anything else
    assert "sklearn.datasets" in modules and "torch.utils.tensorboard" in modules
    assert "torchvision" not in modules


def test_a_csv_run_without_tensorboard_preloads_only_the_common_part(tmp_path: Path) -> None:
    base = load_config(
        {
            "model": {"architecture": "mlp"},
            "data": {"train_path": str(tmp_path / "train.csv")},
            "logging": {"tensorboard": False},
        }
    )
    assert preload_modules(base) == [FORKSERVER_MAIN]


def test_a_torchvision_model_by_name_adds_torchvision() -> None:
    base = load_config(
        {"model": {"architecture": "resnet18"}, "data": {"train_path": "builtin:digits"}}
    )
    assert "torchvision" in preload_modules(base)


PROBE = """
import json, multiprocessing as mp, sys

from trainforge.config import load_config
from trainforge.tune.trial import _context, start_forkserver


def probe(conn):
    conn.send(sorted(m for m in WATCHED if m in sys.modules))


WATCHED = ["sklearn.datasets", "torch.utils.tensorboard", "torch._dynamo", "trainforge.train.fit"]

if __name__ == "__main__":
    base = load_config({"model": {"architecture": "mlp"}, "data": {"train_path": "builtin:digits"}})
    start_forkserver(base)
    ctx = _context(base)
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=probe, args=(child,))
    proc.start()
    print(json.dumps({"method": ctx.get_start_method(), "loaded": parent.recv()}))
    proc.join()
"""


def test_a_trial_process_starts_with_them_already_imported(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(PROBE)
    proc = subprocess.run(
        [sys.executable, "probe.py"],
        cwd=tmp_path,
        env={**env(), "PYTHONPATH": f"{ROOT}:{tmp_path}"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["method"] == "forkserver"
    # what every run imports (torch._dynamo: any optimizer), and what this config's runs import
    assert result["loaded"] == [
        "sklearn.datasets",
        "torch._dynamo",
        "torch.utils.tensorboard",
        "trainforge.train.fit",
    ]
