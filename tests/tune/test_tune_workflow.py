"""SPEC Workflow 2 as a user runs it: search, analyze, train the best config, export it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from tune_helpers import BASE, CKPT_MANAGER, ORCHESTRATOR, run, spec_tuning_yaml, tune


def _workflow_tuning_config() -> str:
    """SPEC's tuning_config.yaml with settings sized for a test: its search space unchanged,
    one worker, pruning from the first epoch."""
    data = yaml.safe_load(spec_tuning_yaml())
    data["optimization"].update(n_startup_trials=2, timeout_per_trial=120, seed=0)
    data["pruning"].update(min_epochs=1, patience=0)
    data["parallel"]["n_jobs"] = 1
    return yaml.safe_dump(data)


@pytest.mark.slow
def test_workflow_2_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training_config.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "tuning_config.yaml").write_text(_workflow_tuning_config())
    # 1. Run hyperparameter search (SPEC's command; --n_trials 50 sized down to 4 for a test)
    step1 = [
        "--config",
        "tuning_config.yaml",
        "--n_trials",
        "4",
        "--method",
        "bayesian",
        "--study_name",
        "my_tuning",
        "--output",
        "tuning_results/",
    ]
    search = tune(step1, tmp_path)
    assert search.returncode == 0, search.stderr[-3000:]
    assert "base config: training_config.yaml" in search.stdout
    assert "4/4 finished" in search.stdout
    assert "top trials of my_tuning" in search.stdout
    out = tmp_path / "tuning_results"
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 4 and {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}
    assert {"params_learning_rate", "params_optimizer", "duration_s", "epochs", "reason"} <= set(
        rows[0]
    )
    for row in rows:
        meta = json.loads((Path(tmp_path / row["run_dir"]) / "metadata.json").read_text())
        assert meta["tuning"]["study"] == "my_tuning"
        assert meta["tuning"]["pruned"] == (row["state"] == "PRUNED")
        assert meta["tuning"]["host"]
    best = json.loads((out / "best_params.json").read_text())
    assert set(best["params"]) >= {"learning_rate", "batch_size", "optimizer"}
    best_cfg = yaml.safe_load((out / "best_config.yaml").read_text())
    assert best_cfg["provenance"]["study"] == "my_tuning"
    assert best_cfg["provenance"]["trial"] == best["trial"]
    assert best_cfg["training"]["learning_rate"] == best["params"]["learning_rate"]
    assert best_cfg["data"]["batch_size"] == best["params"]["batch_size"]

    # Optuna's own load_study opens the default storage, no flags needed
    study = optuna.load_study(study_name="my_tuning", storage="sqlite:///trainforge_studies.db")
    assert len(study.trials) == 4
    assert not [t for t in study.trials if t.state.name == "RUNNING"]

    # 2. Analyze results (verbatim)
    report = tune(
        ["--analyze", "--study", "my_tuning", "--output", "analysis_report.html"], tmp_path
    )
    assert report.returncode == 0, report.stderr[-3000:]
    page = (tmp_path / "analysis_report.html").read_text()
    assert page.count("plotly.js v") == 1  # the library embedded once
    assert "cdn" not in page.split("<body>")[1].lower()

    # 4. Run final training with best config (verbatim)
    final = run(
        [
            ORCHESTRATOR,
            "--config",
            "tuning_results/best_config.yaml",
            "--seed",
            "42",
            "--output",
            "final_model_v1",
        ],
        tmp_path,
    )
    assert final.returncode == 0, final.stderr[-3000:]
    ckpt = torch.load(
        tmp_path / "final_model_v1/checkpoints/best.pth", map_location="cpu", weights_only=True
    )
    assert ckpt["lineage"]["provenance"]["study"] == "my_tuning"  # the model reaches its search

    # 5. Export best checkpoint (verbatim)
    export = run(
        [
            CKPT_MANAGER,
            "--export",
            "--checkpoint",
            "final_model_v1/checkpoints/best.pth",
            "--format",
            "pytorch",
            "--output",
            "model_v1.pth",
        ],
        tmp_path,
    )
    assert export.returncode == 0, export.stderr[-3000:]
    assert (tmp_path / "model_v1.pth").is_file()

    # Re-running step 1 resumes the study: 4 finished trials stay, one more runs
    step1[3] = "5"
    again = tune(step1, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="my_tuning", storage="sqlite:///trainforge_studies.db")
    assert len(study.trials) == 5
    assert "trial 4 " in again.stdout and "trial 0 " not in again.stdout
