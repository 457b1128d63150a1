"""SPEC.md's command lines, run verbatim as a user would, on fixtures built from real digits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures import make_digits_csv, make_image_folder, make_tabular_csv, make_train_val_csvs

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "SPEC.md"
ORCHESTRATOR = str(ROOT / "training_orchestrator.py")


def run(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def records(run_dir: Path) -> list[dict[str, Any]]:
    text = (run_dir / "logs" / "metrics.json").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def workflow1_config() -> str:
    if SPEC.exists():
        match = re.search(r"cat > config.yaml << EOF\n(.*?)EOF", SPEC.read_text(), re.S)
        assert match is not None
        return match.group(1)
    return (
        "model:\n  architecture: simple_cnn\ndata:\n  train_path: data/train.csv\n"
        "  val_path: data/val.csv\n  batch_size: 32\ntraining:\n  epochs: 50\n"
        "  learning_rate: 0.001\n"
    )


@pytest.mark.slow
def test_workflow_1_and_3_verbatim(tmp_path: Path) -> None:
    make_train_val_csvs(tmp_path / "data")
    (tmp_path / "config.yaml").write_text(workflow1_config())
    # Workflow 1, step 2, interrupted by SIGTERM part-way (Workflow 3's premise) ...
    proc = subprocess.Popen(
        [
            sys.executable,
            ORCHESTRATOR,
            "--config",
            "config.yaml",
            "--seed",
            "42",
            "--output",
            "interrupted_run",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "interrupted_run" / "logs" / "metrics.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and metrics.read_text().count('"type": "epoch"') >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    meta = json.loads((tmp_path / "interrupted_run" / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["stop_reason"] == "signal:SIGTERM"
    stopped_at = meta["epochs_completed"]
    assert 2 <= stopped_at < 50

    # ... then Workflow 3 verbatim.
    done = run(
        [
            ORCHESTRATOR,
            "--config",
            "interrupted_run/config.yaml",
            "--resume",
            "interrupted_run/checkpoints/last.pth",
            "--output",
            "resumed_run",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "final val_accuracy" in done.stdout
    resumed = tmp_path / "resumed_run"
    meta = json.loads((resumed / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["epochs_completed"] == 50
    assert meta["resumed_from"]["path"].endswith("interrupted_run/checkpoints/last.pth")
    epochs = [r["epoch"] for r in records(resumed) if r["type"] == "epoch"]
    assert epochs == list(range(1, 51))  # history carried over, nothing repeated
    final = [r for r in records(resumed) if r["type"] == "validation"][-1]["metrics"]
    assert final["val_accuracy"] > 0.95


def test_spec_training_config_offline_pretrained_is_one_clear_line(tmp_path: Path) -> None:
    if not SPEC.exists():
        pytest.skip("shared/SPEC.md not beside the checkout")
    text = SPEC.read_text()
    body = re.search(r"### training_config.yaml\n```yaml\n(.*?)```", text, re.S)
    assert body is not None
    (tmp_path / "training_config.yaml").write_text(body.group(1))
    make_image_folder(tmp_path / "data" / "train", n_per_class=3, size=16)
    make_image_folder(tmp_path / "data" / "val", n_per_class=2, size=16)
    done = run(
        [
            ORCHESTRATOR,
            "--config",
            "training_config.yaml",
            "--seed",
            "42",
            "--output",
            "train_run_001",
        ],
        tmp_path,
    )
    if done.returncode == 0:
        pytest.skip("the network is reachable: pretrained weights downloaded")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "pretrained" in done.stderr
    # The same config without the download trains resnet18 on the image folder.
    ok = run(
        [
            ORCHESTRATOR,
            "--config",
            "training_config.yaml",
            "--seed",
            "42",
            "--output",
            "train_run_002",
            "--set",
            "model.pretrained=false",
            "--fast_dev_run",
            "--set",
            "data.num_workers=0",
        ],
        tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    meta = json.loads((tmp_path / "train_run_002" / "metadata.json").read_text())
    assert meta["status"] == "completed"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "does not exist"),
        ("nan_csv", "row"),
        ("empty_class", "no images"),
        ("text_feature", "column"),
        ("bad_label", "num_classes"),
    ],
)
def test_bad_data_is_one_line_exit_2(tmp_path: Path, setup: str, expected: str) -> None:
    overrides: list[str] = []
    if setup == "missing":
        train = "nowhere/train.csv"
    elif setup in ("nan_csv", "text_feature"):
        path = make_tabular_csv(tmp_path / "iris.csv", "iris")
        lines = path.read_text().splitlines()
        cells = lines[5].split(",")
        cells[1] = "nan" if setup == "nan_csv" else "abc"
        lines[5] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
        train = str(path)
        overrides = ["model.architecture=mlp"]
    elif setup == "empty_class":
        root = make_image_folder(tmp_path / "imgs", n_per_class=2, size=8, classes=["a", "b"])
        (Path(root) / "c").mkdir()
        train = str(root)
    else:
        train = str(make_digits_csv(tmp_path / "d.csv", n=100))
        overrides = ["model.num_classes=5"]
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train_path: {train}\n")
    args = [ORCHESTRATOR, "--config", str(config), "--output", str(tmp_path / "run")]
    for o in overrides:
        args += ["--set", o]
    done = run(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert expected in done.stderr


def test_pixel_csv_user_model_and_kebab_flags(tmp_path: Path) -> None:
    make_digits_csv(tmp_path / "train.csv", n=400)
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self, num_classes: int, width: int = 32):\n"
        "        super().__init__()\n"
        "        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, width),\n"
        "                                        torch.nn.ReLU(), torch.nn.Linear(width, num_classes))\n"
        "    def forward(self, x):\n"
        "        return self.body(x)\n"
    )
    (tmp_path / "c.yaml").write_text(
        "model:\n  architecture: my_models:Net\n  kwargs: {width: 16}\n"
        "data:\n  train_path: train.csv\n  batch_size: 32\ntraining:\n  epochs: 2\n"
    )
    done = run(
        [
            "-m",
            "trainforge",
            "train",
            "--config",
            "c.yaml",
            "--output",
            "run",
            "--fast-dev-run",
            "--set",
            "training.optimizer=sgd",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    cfg = (tmp_path / "run" / "config.yaml").read_text()
    assert "architecture: my_models:Net" in cfg and "optimizer: sgd" in cfg


def test_unavailable_device_and_distributed_flags(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "data:\n  train_path: builtin:iris\nmodel:\n  architecture: mlp\n"
    )
    import torch

    if not torch.cuda.is_available():
        done = run(
            [ORCHESTRATOR, "--config", "c.yaml", "--device", "cuda", "--output", "r"], tmp_path
        )
        assert done.returncode == 2 and "CUDA is not available" in done.stderr
        assert "Traceback" not in done.stderr
    # --distributed itself is tested in tests/distributed; its flags alone are a usage error
    dist = run([ORCHESTRATOR, "--config", "c.yaml", "--n_gpus", "4"], tmp_path)
    assert dist.returncode == 2 and "need --distributed" in dist.stderr
