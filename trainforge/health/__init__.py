"""Run health: the rules (pure functions over metric series), the resource sampler, and the
live monitor that raises alerts while a run trains. The monitor tool reuses the same rules
offline, so its reports and the live alerts agree."""

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports
from trainforge.health.rules import Finding
from trainforge.health.series import Series, SeriesBuilder

if TYPE_CHECKING:
    from trainforge.health.checks import RunFacts, evaluate, limit_per_rule
    from trainforge.health.live import HealthMonitor

# These import the config schema (pydantic, ~0.3 s): only on first use, so that drawing a
# log's curves does not pay for it.
_LAZY = {
    "RunFacts": ".checks",
    "evaluate": ".checks",
    "limit_per_rule": ".checks",
    "HealthMonitor": ".live",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "Finding",
    "HealthMonitor",
    "RunFacts",
    "Series",
    "SeriesBuilder",
    "evaluate",
    "limit_per_rule",
]
