"""Run health: the rules (pure functions over metric series), the resource sampler, and the
live monitor that raises alerts while a run trains. The monitor tool reuses the same rules
offline, so its reports and the live alerts agree."""

import importlib
from typing import TYPE_CHECKING, Any

from trainforge.health.rules import Finding
from trainforge.health.series import Series, SeriesBuilder

if TYPE_CHECKING:
    from trainforge.health.checks import RunFacts, evaluate, limit_per_rule
    from trainforge.health.live import HealthMonitor

# These import the config schema (pydantic, ~0.3 s): only on first use, so that drawing a
# log's curves does not pay for it.
_LAZY = {
    "RunFacts": "checks",
    "evaluate": "checks",
    "limit_per_rule": "checks",
    "HealthMonitor": "live",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "Finding",
    "HealthMonitor",
    "RunFacts",
    "Series",
    "SeriesBuilder",
    "evaluate",
    "limit_per_rule",
]
