"""The benchmark jobs stay comparable: the hand-written side trains trainforge's own network,
and the configs the whole-process benchmark writes are valid trainforge configs."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path[:0] = [str(BENCH), str(BENCH / "jobs")]

from bench_process import trainforge_config  # noqa: E402
from user_models import MLP, SimpleCNN  # noqa: E402

from trainforge.config import load_config  # noqa: E402
from trainforge.models import build_model  # noqa: E402


def test_the_hand_written_cnn_is_simple_cnn_layer_for_layer() -> None:
    cfg = load_config({"model": {"architecture": "simple_cnn"}})

    class Spec:
        kind, shape, task, num_classes = "image", [3, 32, 32], "classification", 10

    spec = Spec()
    ours = {k: tuple(v.shape) for k, v in build_model(cfg.model, spec).state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in SimpleCNN().state_dict().items()}
    assert ours == theirs


def test_the_benchmark_configs_validate(tmp_path: Path) -> None:
    for job in ("mlp", "cnn"):
        path = tmp_path / f"{job}.yaml"
        path.write_text(trainforge_config(job, tmp_path, epochs=3, workers=2))
        cfg = load_config(path)
        assert cfg.training.epochs == 3 and cfg.training.optimizer == "adam"
    assert (
        sum(p.numel() for p in MLP().parameters()) == 64 * 1024 + 1024 + 1024 * 1024 + 1024 + 10250
    )
