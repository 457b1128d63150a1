"""The training layer: ``fit`` and what its callers (the CLI, the tuner) need around it.

Public names: ``fit``, ``Hook``, ``RunState``, ``RunResult``, ``StopReason``,
``TrainingDiverged`` and the documented exit codes. They load lazily, so that importing one
small module of this package (the checkpoint manager uses ``train.optim``) does not import
the data sources (scikit-learn, pandas) that ``fit`` needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports

_EXPORTS = {
    "fit": "trainforge.train.fit",
    "Hook": "trainforge.train.hooks",
    "RunState": "trainforge.train.hooks",
    "RunResult": "trainforge.train.result",
    "StopReason": "trainforge.train.result",
    "TrainingDiverged": "trainforge.train.result",
    "EXIT_OK": "trainforge.train.result",
    "EXIT_FAILED": "trainforge.train.result",
    "EXIT_USAGE": "trainforge.train.result",
    "EXIT_DIVERGED": "trainforge.train.result",
    "EXIT_STOPPED_BY_HOOK": "trainforge.train.result",
    "EXIT_PEER_LOST": "trainforge.train.result",
    "EXIT_SIGNAL_BASE": "trainforge.train.result",
}

if TYPE_CHECKING:
    from trainforge.train.fit import fit
    from trainforge.train.hooks import Hook, RunState
    from trainforge.train.result import (
        EXIT_DIVERGED,
        EXIT_FAILED,
        EXIT_OK,
        EXIT_PEER_LOST,
        EXIT_SIGNAL_BASE,
        EXIT_STOPPED_BY_HOOK,
        EXIT_USAGE,
        RunResult,
        StopReason,
        TrainingDiverged,
    )


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PEER_LOST",
    "EXIT_SIGNAL_BASE",
    "EXIT_STOPPED_BY_HOOK",
    "EXIT_USAGE",
    "Hook",
    "RunResult",
    "RunState",
    "StopReason",
    "TrainingDiverged",
    "fit",
]
