"""``trainforge tune`` as users run it: parallel workers, Ctrl-C, best-config validation,
one-line errors, the dashboard on the default storage."""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import TUNER, env, tune, tuning, user_model_base, write_configs

DB = "sqlite:///trainforge_studies.db"


@pytest.mark.slow
def test_two_parallel_workers_share_the_default_storage_and_never_repeat_a_grid_point(
    tmp_path: Path,
) -> None:
    space = {
        "learning_rate": {"type": "categorical", "choices": [0.01, 0.05]},
        "hidden_sizes": {"type": "categorical", "choices": [[8], [16]]},
    }
    write_configs(tmp_path, tuning(space, n_trials=10, method="grid"))
    result = tune(
        ["--config", "tuning_config.yaml", "--parallel", "2", "--output", "res"], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "grid: 4 point(s)" in result.stdout
    assert "n_trials 10 capped at the grid's 4 point(s)" in result.stdout
    assert "2 workers share" in result.stdout  # the cores are split between workers
    study = optuna.load_study(
        study_name="tuning_config", storage=f"sqlite:///{tmp_path}/trainforge_studies.db"
    )
    assert len(study.trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    points = {(t.params["learning_rate"], t.params["hidden_sizes"]) for t in study.trials}
    assert len(points) == 4
    assert {t.user_attrs["worker"] for t in study.trials} == {0, 1}
    rows = list(csv.DictReader((tmp_path / "res" / "trials.csv").open()))
    assert {r["host"] for r in rows} == {socket.gethostname()}


@pytest.mark.slow
def test_ctrl_c_stops_the_study_cleanly(tmp_path: Path) -> None:
    base = user_model_base(tmp_path, epochs=50)
    space = {
        "model.kwargs.mode": {"type": "categorical", "choices": ["slow"]},
        "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
    }
    write_configs(tmp_path, tuning(space, n_trials=3), base)
    proc = subprocess.Popen(
        [sys.executable, TUNER, "--config", "tuning_config.yaml", "--output", "res"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    metrics = tmp_path / "res" / "trials" / "trial_0000" / "logs" / "metrics.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        metrics.exists() and '"type": "step"' in metrics.read_text()
    ):
        time.sleep(0.3)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, out[-3000:]
    assert "interrupted: the study is saved" in out
    assert "Traceback" not in out
    study = optuna.load_study(
        study_name="tuning_config", storage=f"sqlite:///{tmp_path}/trainforge_studies.db"
    )
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    meta = json.loads((metrics.parent.parent / "metadata.json").read_text())
    assert meta["status"] == "stopped"  # the trial's run ended cleanly, not killed mid-write
    assert (tmp_path / "res" / "trials.csv").is_file()


@pytest.mark.slow
def test_validate_best_retrains_with_other_seeds(tmp_path: Path) -> None:
    space = {"learning_rate": {"type": "categorical", "choices": [0.02, 0.05]}}
    cfg = tuning(space, n_trials=2, method="grid", optimization={"select_best": "validated_mean"})
    write_configs(tmp_path, cfg)
    result = tune(
        [
            "--config",
            "tuning_config.yaml",
            "--validate_best",
            "2",
            "--validate_top",
            "2",
            "--output",
            "res",
            "--set",
            "training.epochs=1",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("over seeds [43, 44]") == 2
    best = json.loads((tmp_path / "res" / "best_params.json").read_text())
    validation = best["validation"]
    assert validation["n_seeds"] == 2 and len(validation["trials"]) == 2
    for record in validation["trials"]:
        assert len(record["values"]) == 2 and record["std"] >= 0
        assert record["min"] <= record["mean"] <= record["max"]
        assert record["lucky"] == (record["trial_value"] > record["max"])
    means = {r["trial"]: r["mean"] for r in validation["trials"]}
    assert best["trial"] == validation["selected_trial"] == max(means, key=lambda k: means[k])
    assert len(list((tmp_path / "res" / "validation").iterdir())) == 4


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "search_space:\n  learning_rate: {type: uniform, low: 0, high: 1}\n"
    )
    no_base = tune(["--config", "t.yaml"], tmp_path)
    assert no_base.returncode == 2
    assert no_base.stderr.strip().count("\n") == 0 and "base_config" in no_base.stderr
    no_db = tune(["--analyze", "--study", "nope", "--output", "r.html"], tmp_path)
    assert no_db.returncode == 2 and "no study storage" in no_db.stderr
    assert "Traceback" not in no_db.stderr + no_base.stderr
    (tmp_path / "res" / "trials" / "trial_0000").mkdir(parents=True)
    write_configs(tmp_path, tuning())
    other = tune(["--config", "tuning_config.yaml", "--output", "res"], tmp_path)
    assert other.returncode == 2 and "holds the trials of another study" in other.stderr
    assert not list((tmp_path / "res").glob("*.csv"))  # refused before any trial
    typo = tune(["--config", "t.yaml", "--methd", "grid"], tmp_path)
    assert typo.returncode == 2 and "--methd" in typo.stderr


@pytest.mark.slow
def test_dashboard_reads_the_default_storage(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard", reason="optuna-dashboard (the tune extra) is absent")
    write_configs(tmp_path, tuning(n_trials=1), None)
    result = tune(
        ["--config", "tuning_config.yaml", "--study_name", "dash", "--set", "training.epochs=1"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import optuna_dashboard; optuna_dashboard.run_server("
            f"{DB!r}, host='127.0.0.1', port={port})",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the dashboard did not answer within 60 s"
        studies = {s["study_name"]: s for s in body["study_summaries"]}
        assert "dash" in studies
        assert studies["dash"]["directions"] == ["maximize"]
    finally:
        server.terminate()
        server.wait(10)
