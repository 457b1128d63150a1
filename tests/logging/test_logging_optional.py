"""W&B and MLflow are optional extras: without them, enabling them is a clear config error."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from trainforge.config.schema import LoggingConfig, MlflowConfig, WandbConfig
from trainforge.errors import ConfigError
from trainforge.logging import MlflowSink, WandbSink, build_sinks


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make a module unimportable for the test, as on a machine without the extra: a None
    entry in sys.modules is how Python itself marks a module as absent."""

    def _hide(module: str) -> None:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)

    return _hide


def test_wandb_missing_is_a_config_error(tmp_path: Path, hide: Callable[[str], None]) -> None:
    hide("wandb")
    with pytest.raises(ConfigError) as err:
        WandbSink(WandbConfig(enabled=True), tmp_path, "run", {})
    assert str(err.value) == (
        "logging.wandb.enabled is true but wandb is not installed; "
        "pip install 'trainforge[wandb]' or set logging.wandb.enabled: false"
    )


def test_mlflow_missing_is_a_config_error(tmp_path: Path, hide: Callable[[str], None]) -> None:
    hide("mlflow")
    with pytest.raises(ConfigError, match=r"pip install 'trainforge\[mlflow\]'"):
        MlflowSink(MlflowConfig(enabled=True), tmp_path, "run", {})


def test_build_sinks_raises_and_leaves_nothing_open(
    tmp_path: Path, hide: Callable[[str], None]
) -> None:
    hide("wandb")
    cfg = LoggingConfig(tensorboard=False, wandb=WandbConfig(enabled=True))
    with pytest.raises(ConfigError, match="wandb"):
        build_sinks(cfg, run_dir=tmp_path, log_dir=tmp_path / "logs", run_name="r", config_dict={})
    # The core files were opened and then closed: a fresh open works and they are empty.
    assert (tmp_path / "logs" / "metrics.json").read_bytes() == b""
