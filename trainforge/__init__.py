"""trainforge: from a YAML config to a trained, tuned, versioned, exported and diagnosed model.

Public API (imported lazily, so ``import trainforge`` and the CLI's config checks stay fast):
``fit``, ``load_model``, ``RunResult``, ``Hook``, ``RunState``, ``TrainConfig``, ``load_config``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "fit": "trainforge.train.fit",
    "RunResult": "trainforge.train.result",
    "Hook": "trainforge.train.hooks",
    "RunState": "trainforge.train.hooks",
    "load_model": "trainforge.inference",
    "LoadedModel": "trainforge.inference",
    "TrainConfig": "trainforge.config",
    "load_config": "trainforge.config",
    "TrainforgeError": "trainforge.errors",
}

if TYPE_CHECKING:
    from trainforge.config import TrainConfig, load_config
    from trainforge.errors import TrainforgeError
    from trainforge.inference import LoadedModel, load_model
    from trainforge.train.fit import fit
    from trainforge.train.hooks import Hook, RunState
    from trainforge.train.result import RunResult


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "Hook",
    "LoadedModel",
    "RunResult",
    "RunState",
    "TrainConfig",
    "TrainforgeError",
    "__version__",
    "fit",
    "load_config",
    "load_model",
]
