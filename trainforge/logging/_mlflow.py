"""MLflow tracking, for users who enable it (an optional extra)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from trainforge.config.schema import MlflowConfig
from trainforge.errors import ConfigError
from trainforge.logging._base import import_optional, tracker_scalars

# MLflow caps a parameter value (500 characters in older servers) and a batch (100 params).
_PARAM_CHARS = 500
_PARAM_BATCH = 100


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"training": {"lr": 0.1}}`` → ``{"training.lr": "0.1"}`` (MLflow params are flat)."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:_PARAM_CHARS]
    return flat


def default_tracking_uri(cfg: MlflowConfig, run_dir: str | os.PathLike[str]) -> str:
    """logging.mlflow.tracking_uri, else $MLFLOW_TRACKING_URI, else a SQLite store in the run
    folder (MLflow 3 no longer accepts new runs in a plain ``mlruns`` folder)."""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


def _artifacts(uri: str, run_dir: str | os.PathLike[str]) -> str | None:
    # A local SQLite store would otherwise put artifacts in ./mlruns of whatever folder the
    # user happens to be in.
    return (Path(run_dir).resolve() / "mlartifacts").as_uri() if uri.startswith("sqlite:") else None


class MlflowSink:
    """Metrics at the global step; the config as flattened params; resumable by run id.

    Uses ``MlflowClient`` rather than the fluent ``mlflow.start_run`` so that several runs in
    one process (tuning trials) never share MLflow's global active run.
    """

    name = "mlflow"

    def __init__(
        self,
        cfg: MlflowConfig,
        run_dir: str | os.PathLike[str],
        run_name: str,
        config_dict: dict[str, Any],
        *,
        resume_id: str | None = None,
    ) -> None:
        import_optional("mlflow", "logging.mlflow.enabled", "mlflow")
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        self._metric_cls: Any = Metric
        uri = default_tracking_uri(cfg, run_dir)
        try:
            self._client: Any = MlflowClient(tracking_uri=uri)
            if resume_id:
                self.run_id: str = self._client.get_run(resume_id).info.run_id
            else:
                experiment = self._client.get_experiment_by_name(cfg.experiment)
                experiment_id = (
                    experiment.experiment_id
                    if experiment is not None
                    else self._client.create_experiment(
                        cfg.experiment, artifact_location=_artifacts(uri, run_dir)
                    )
                )
                run = self._client.create_run(experiment_id, run_name=run_name)
                self.run_id = run.info.run_id
                params = [Param(k, v) for k, v in flatten(config_dict).items()]
                for i in range(0, len(params), _PARAM_BATCH):
                    self._client.log_batch(self.run_id, params=params[i : i + _PARAM_BATCH])
        except Exception as exc:  # unreachable server, bad URI, unknown run id
            raise ConfigError(
                f"MLflow at {uri} could not start a run: {exc}; check logging.mlflow.tracking_uri"
            ) from None
        self._closed = False

    def log(self, record: dict[str, Any]) -> None:
        if self._closed:
            raise ValueError("MLflow sink is closed")
        scalars = tracker_scalars(record)
        if scalars is None:
            return
        step, values = scalars
        stamp = int(1000 * float(record.get("time", time.time())))
        metrics = [self._metric_cls(k, v, stamp, step) for k, v in values.items()]
        self._client.log_batch(self.run_id, metrics=metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.set_terminated(self.run_id, status="FINISHED")
