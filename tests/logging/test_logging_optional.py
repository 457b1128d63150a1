"""W&B and MLflow are optional extras: without them, enabling them is a clear config error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from trainforge.config.schema import LoggingConfig, MlflowConfig, WandbConfig
from trainforge.errors import ConfigError
from trainforge.logging import MlflowSink, WandbSink, build_sinks


def _skip_if_installed(module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here; the missing-package error cannot be shown")


def test_wandb_missing_is_a_config_error(tmp_path: Path) -> None:
    _skip_if_installed("wandb")
    with pytest.raises(ConfigError) as err:
        WandbSink(WandbConfig(enabled=True), tmp_path, "run", {})
    assert str(err.value) == (
        "logging.wandb.enabled is true but wandb is not installed; "
        "pip install 'trainforge[wandb]' or set logging.wandb.enabled: false"
    )


def test_mlflow_missing_is_a_config_error(tmp_path: Path) -> None:
    _skip_if_installed("mlflow")
    with pytest.raises(ConfigError, match=r"pip install 'trainforge\[mlflow\]'"):
        MlflowSink(MlflowConfig(enabled=True), tmp_path, "run", {})


def test_build_sinks_raises_and_leaves_nothing_open(tmp_path: Path) -> None:
    _skip_if_installed("wandb")
    cfg = LoggingConfig(tensorboard=False, wandb=WandbConfig(enabled=True))
    with pytest.raises(ConfigError, match="wandb"):
        build_sinks(cfg, run_dir=tmp_path, log_dir=tmp_path / "logs", run_name="r", config_dict={})
    # The core files were opened and then closed: a fresh open works and they are empty.
    assert (tmp_path / "logs" / "metrics.json").read_bytes() == b""
