from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models import build_model

USER_MODULE = """
import torch
from torch import nn


class WithClasses(nn.Module):
    def __init__(self, num_classes, hidden=16, in_channels=1, input_shape=None):
        super().__init__()
        self.seen = {"in_channels": in_channels, "input_shape": input_shape, "hidden": hidden}
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


class FixedTen(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.Linear(width, 10))

    def forward(self, x):
        return self.net(x)


class Broken(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        raise RuntimeError("boom in user code")


def make_model(num_classes):
    return WithClasses(num_classes, hidden=4)


def not_a_model():
    return 42


torch = torch
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mypkg.nets"
    # The next test writes its own copy under another tmp_path: import that one afresh.
    for name in ("mypkg.nets", "mypkg"):
        sys.modules.pop(name, None)


def test_class_taking_num_classes_and_input_arguments(make_spec, user_module):
    spec = make_spec(shape=[3, 16, 16], num_classes=5)
    cfg = ModelConfig(architecture=f"{user_module}:WithClasses", kwargs={"hidden": 12})
    model = build_model(cfg, spec)
    assert model.seen == {"in_channels": 3, "input_shape": [3, 16, 16], "hidden": 12}
    assert model(torch.randn(4, 3, 16, 16)).shape == (4, 5)


def test_class_without_num_classes_in_its_signature(make_spec, user_module):
    cfg = ModelConfig(architecture=f"{user_module}:FixedTen", kwargs={"width": 6})
    model = build_model(cfg, make_spec(num_classes=10))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_class_whose_output_does_not_fit_the_data_is_an_error(make_spec, user_module):
    cfg = ModelConfig(architecture=f"{user_module}:FixedTen")
    with pytest.raises(ModelError, match=r"returns \[2, 10\].*expected \[2, 3\].*num_classes"):
        build_model(cfg, make_spec(num_classes=3))


def test_regression_model_class(make_spec, user_module):
    spec = make_spec(kind="tabular", shape=[7], task="regression", num_classes=None)
    model = build_model(ModelConfig(architecture=f"{user_module}:WithClasses"), spec)
    assert model(torch.randn(3, 7)).shape == (3, 1)


@pytest.mark.parametrize("name", ["make_model", "not_a_model", "torch"])
def test_anything_but_a_module_class_is_refused_without_being_called(make_spec, user_module, name):
    # make_model would build a fine model, but a config may only name a class: a function
    # path could as well be os:system. "torch" is a module attribute that is not callable.
    with pytest.raises(ModelError, match=r"not a torch nn.Module subclass"):
        build_model(ModelConfig(architecture=f"{user_module}:{name}"), make_spec())


@pytest.mark.parametrize("target", ["os:system", "subprocess:Popen", "builtins:exec"])
def test_callables_outside_torch_are_refused_uncalled(make_spec, target, tmp_path):
    marker = tmp_path / "ran"
    cfg = ModelConfig(architecture=target, kwargs={"args": f"touch {marker}"})
    with pytest.raises(ModelError, match=r"is a .*not a torch nn.Module subclass"):
        build_model(cfg, make_spec())
    assert not marker.exists()


def test_missing_module_names_it_and_the_fix(make_spec):
    with pytest.raises(ModelError, match=r"cannot import module 'nope_pkg\.nets'.*PYTHONPATH"):
        build_model(ModelConfig(architecture="nope_pkg.nets:Net"), make_spec())


def test_missing_class_suggests_a_close_name(make_spec, user_module):
    with pytest.raises(ModelError, match=r"no attribute 'WithClass'.*did you mean 'WithClasses'"):
        build_model(ModelConfig(architecture=f"{user_module}:WithClass"), make_spec())


def test_constructor_type_error_is_reported(make_spec, user_module):
    cfg = ModelConfig(architecture=f"{user_module}:FixedTen", kwargs={"depth": 3})
    with pytest.raises(ModelError, match=r"FixedTen.*failed: TypeError.*depth"):
        build_model(cfg, make_spec())


def test_error_inside_user_code_is_reported(make_spec, user_module):
    with pytest.raises(ModelError, match=r"RuntimeError: boom in user code"):
        build_model(ModelConfig(architecture=f"{user_module}:Broken"), make_spec())


def test_kwargs_contradicting_the_data_are_an_error(make_spec, user_module):
    cfg = ModelConfig(architecture=f"{user_module}:WithClasses", kwargs={"num_classes": 4})
    with pytest.raises(ModelError, match=r"model.kwargs.num_classes is 4 but the data gives 10"):
        build_model(cfg, make_spec(num_classes=10))


def test_malformed_import_path(make_spec):
    with pytest.raises(ModelError, match=r"package.module:Class"):
        build_model(ModelConfig(architecture="mypkg.nets:"), make_spec())


def test_import_error_inside_the_user_module_names_the_missing_package(
    make_spec, tmp_path, monkeypatch
):
    (tmp_path / "needs_dep.py").write_text("import not_installed_dep_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError, match=r"importing 'needs_dep' failed.*not_installed_dep_xyz"):
        build_model(ModelConfig(architecture="needs_dep:Net"), make_spec())
