"""A checkpoint never runs code: a forged config's import path is refused by every loader
unless the user trusts the file, and even then only an nn.Module subclass is ever called."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from security_testing import (
    assert_one_line_error,
    forge,
    run_cli,
    tiny_config,
    train_tiny,
    write_marker_module,
)

import trainforge
from trainforge.ckpt.export import export_checkpoint
from trainforge.ckpt.registry import Registry
from trainforge.errors import ModelError
from trainforge.evaluate import evaluate_checkpoint
from trainforge.predict import predict_file


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("genuine") / "run")


@pytest.fixture
def marker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """marker_mod importable from tmp_path/code; returns that folder."""
    folder = tmp_path / "code"
    write_marker_module(folder)
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("marker_mod", None)


def _os_system(genuine: Path, folder: Path) -> tuple[Path, Path]:
    marker = folder / "shell.marker"
    forged = forge(
        genuine,
        folder / "forged.pth",
        model={"architecture": "os:system", "kwargs": {"command": f"touch {marker}"}},
    )
    return forged, marker


CLI_LOADERS = {
    "predict": ["predict", "--input", "builtin:iris", "--output", "preds.csv"],
    "evaluate": ["evaluate", "--data", "builtin:iris"],
    "export": ["ckpt", "--export", "--format", "onnx", "--output", "m.onnx"],
    "register": ["ckpt", "--register", "--name", "iris", "--registry", "reg"],
    "resume": ["train", "--output", "resumed"],
}


@pytest.mark.parametrize("loader", sorted(CLI_LOADERS))
def test_every_cli_loader_refuses_a_forged_os_system(genuine, tmp_path, loader):
    forged, marker = _os_system(genuine, tmp_path)
    if loader == "register":  # registering evaluates the config's test set
        forge(forged, forged, data={"test_path": "builtin:iris"})
    flag = "--resume" if loader == "resume" else "--checkpoint"
    done = run_cli(*CLI_LOADERS[loader], flag, str(forged), cwd=tmp_path)
    assert_one_line_error(done, "os:system", "module 'os'", "--trust_model_code")
    assert not marker.exists()
    assert not (tmp_path / "preds.csv").exists() and not (tmp_path / "m.onnx").exists()
    assert not (tmp_path / "reg").exists() and not (tmp_path / "resumed").exists()


def test_trust_flag_still_never_calls_a_non_module(genuine, tmp_path):
    forged, marker = _os_system(genuine, tmp_path)
    args = ["predict", "--input", "builtin:iris", "--output", "p.csv", "--checkpoint", str(forged)]
    done = run_cli(*args, "--trust_model_code", cwd=tmp_path)
    assert_one_line_error(done, "os:system", "not a torch nn.Module subclass")
    assert not marker.exists()


def _python_loaders(path: Path, out: Path, trust: bool) -> dict[str, object]:
    return {
        "load_model": lambda: trainforge.load_model(path, trust_model_code=trust),
        "evaluate": lambda: evaluate_checkpoint(path, "builtin:iris", trust_model_code=trust),
        "predict": lambda: predict_file(
            path, "builtin:iris", out / "p.csv", trust_model_code=trust
        ),
        "export": lambda: export_checkpoint(
            path, "pytorch", out / "w.pth", echo=None, trust_model_code=trust
        ),
        "resume": lambda: trainforge.fit(
            None, resume=path, output=out / "resumed", trust_model_code=trust
        ),
        "register": lambda: Registry(out / "reg").register(path, "forged", trust_model_code=trust),
    }


@pytest.mark.parametrize(
    "loader", ["load_model", "evaluate", "predict", "export", "resume", "register"]
)
def test_python_loaders_import_nothing_without_trust(genuine, marker_module, tmp_path, loader):
    forged = forge(
        genuine, tmp_path / "forged.pth", model={"architecture": "marker_mod:make_model"}
    )
    forge(forged, forged, data={"test_path": "builtin:iris"})
    with pytest.raises(ModelError, match=r"marker_mod:make_model.*trust_model_code=True"):
        _python_loaders(forged, tmp_path, trust=False)[loader]()
    assert not (marker_module / "imported.marker").exists()
    assert not (marker_module / "called.marker").exists()


@pytest.mark.parametrize("loader", ["load_model", "evaluate", "predict", "export", "resume"])
def test_trusted_factory_function_is_imported_but_never_called(
    genuine, marker_module, tmp_path, loader
):
    forged = forge(
        genuine, tmp_path / "forged.pth", model={"architecture": "marker_mod:make_model"}
    )
    with pytest.raises(ModelError, match=r"is a function, not a torch nn.Module subclass"):
        _python_loaders(forged, tmp_path, trust=True)[loader]()
    assert (marker_module / "imported.marker").exists()  # trusting means importing
    assert not (marker_module / "called.marker").exists()


def test_a_trusted_module_class_loads_and_own_resume_needs_no_flag(marker_module, tmp_path):
    config = tiny_config(architecture="marker_mod:Net")
    first = trainforge.fit(config, output=tmp_path / "run")
    last = first.checkpoints["last"]
    with pytest.raises(ModelError, match=r"marker_mod:Net"):
        trainforge.load_model(last)
    loaded = trainforge.load_model(last, trust_model_code=True)
    assert type(loaded.network).__name__ == "Net"
    # One's own resume with one's own config: the config names the code, not the file.
    again = trainforge.fit(config, ["training.epochs=2"], resume=last, output=tmp_path / "run")
    assert again.exit_code == 0 and again.epochs_completed == 2
    # Without a config, everything comes from the file: the error says how to allow it.
    with pytest.raises(ModelError, match=r"pass --config with the same settings or pass --trust"):
        trainforge.fit(None, resume=last, output=tmp_path / "other")


def test_trust_flag_on_the_cli_loads_a_module_class(tmp_path, monkeypatch):
    write_marker_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    trained = trainforge.fit(tiny_config(architecture="marker_mod:Net"), output=tmp_path / "r")
    sys.modules.pop("marker_mod", None)
    last = str(trained.checkpoints["last"])
    args = ["predict", "--checkpoint", last, "--input", "builtin:iris", "--output", "p.csv"]
    assert_one_line_error(run_cli(*args, cwd=tmp_path), "marker_mod:Net", "--trust_model_code")
    done = run_cli(*args, "--trust_model_code", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.csv").read_text().startswith("id,class_index,class_name")
