"""A user's own model, named in the config as ``architecture: "package.module:Class"``.

The path is resolved to a class and checked to be an ``nn.Module`` subclass before anything is
called (``resolve_model_class``): a config can name a model, never an arbitrary callable such
as ``os:system``. The class is then called with ``model.kwargs``, plus these arguments when
its signature names them explicitly:

- ``num_classes``: the output width (the class count, or 1 for regression);
- ``in_channels``: the first dimension of one sample (image channels, or the number of
  features of tabular data);
- ``input_shape``: the whole shape of one sample, as a list ([C, H, W] or [F]).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from trainforge.config import ModelConfig
from trainforge.config.trust import is_import_path
from trainforge.errors import ModelError
from trainforge.models._spec import SpecLike, did_you_mean

__all__ = ["build_user_model", "is_import_path", "resolve_model_class"]


def build_user_model(target: str, cfg: ModelConfig, spec: SpecLike, outputs: int) -> nn.Module:
    factory = resolve_model_class(target)
    kwargs = {**cfg.kwargs, **_merge_injected(target, cfg.kwargs, spec, outputs, factory)}
    try:
        model = factory(**kwargs)
    except Exception as exc:  # a user mistake in kwargs (TypeError) or in their own code
        raise ModelError(
            f"{target}(**{kwargs}) failed: {type(exc).__name__}: {exc}; check model.kwargs"
        ) from exc
    if not isinstance(model, nn.Module):  # a class overriding __new__ can still do this
        raise ModelError(f"{target} returned {type(model).__name__}, not a torch nn.Module")
    return model


def resolve_model_class(target: str) -> type[nn.Module]:
    """The ``nn.Module`` subclass ``target`` names; anything else is refused, uncalled."""
    obj = _import_object(target)
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        kind = "a class" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise ModelError(
            f"model.architecture '{target}' is {kind}, not a torch nn.Module subclass; name "
            "your model class as 'package.module:Class' (a factory function is not accepted: "
            "wrap it in an nn.Module subclass)"
        )
    return obj


def _import_object(target: str) -> object:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelError(
            f"model.architecture '{target}' is not an import path; write 'package.module:Class'"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # The named module itself is missing, or it imports something that is.
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise ModelError(
                f"cannot import module '{module_name}' (model.architecture '{target}'): is it "
                "on PYTHONPATH? Add the folder that contains it, e.g. "
                "PYTHONPATH=. trainforge train ..."
            ) from exc
        raise ModelError(
            f"importing '{module_name}' failed: {exc}; install the missing package"
        ) from exc
    except Exception as exc:  # SyntaxError and anything else raised at import time
        raise ModelError(f"importing '{module_name}' failed: {type(exc).__name__}: {exc}") from exc
    obj = module
    for part in attr.split("."):  # allows nested names such as 'Outer.Inner'
        if not hasattr(obj, part):
            public = [n for n in dir(module) if not n.startswith("_")]
            raise ModelError(
                f"module '{module_name}' has no attribute '{attr}'{did_you_mean(part, public)}"
            )
        obj = getattr(obj, part)
    return obj


def injected_arguments(factory: Callable[..., Any], spec: SpecLike, outputs: int) -> dict[str, Any]:
    """The data-derived arguments the factory's signature asks for by name."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some C extensions have no signature
        return {}
    named = {
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    available: dict[str, Any] = {
        "num_classes": outputs,
        "in_channels": int(spec.shape[0]),
        "input_shape": [int(n) for n in spec.shape],
    }
    return {name: value for name, value in available.items() if name in named}


def _merge_injected(
    target: str,
    user_kwargs: dict[str, Any],
    spec: SpecLike,
    outputs: int,
    factory: Callable[..., Any],
) -> dict[str, Any]:
    injected = injected_arguments(factory, spec, outputs)
    for name, value in injected.items():
        if name in user_kwargs and user_kwargs[name] != value:
            raise ModelError(
                f"model.kwargs.{name} is {user_kwargs[name]} but the data gives {value} for "
                f"{target}; remove model.kwargs.{name} (trainforge passes it)"
            )
    return injected
