"""MLflow for real: a run logs to a local store by default, read back with MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainforge

CONFIG = {
    "model": {"architecture": "mlp", "hidden_sizes": [8]},
    "data": {"train_path": "builtin:iris"},
    "training": {"epochs": 2},
    "logging": {"progress_bar": "off", "tensorboard": False, "mlflow": {"enabled": True}},
}


def test_mlflow_local_store_and_resume_under_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # nothing may land in the working folder
    first = trainforge.fit(CONFIG, output=tmp_path / "run")
    store = tmp_path / "run" / "mlflow.db"
    assert store.is_file() and not (tmp_path / "mlruns").exists()
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("trainforge")
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [3, 6]  # the global step of each validation
    assert run.data.params["training.epochs"] == "2"
    assert first.status == "completed"

    resumed = trainforge.fit(CONFIG, ["training.epochs=3"], resume=tmp_path / "run")
    assert resumed.epochs_completed == 3
    (again,) = client.search_runs([experiment.experiment_id])
    assert again.info.run_id == run.info.run_id  # the resumed run continues the same MLflow run
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
    assert steps == [3, 6, 9]
