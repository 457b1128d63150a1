"""Run health: the rules (pure functions over metric series), the resource sampler, and the
live monitor that raises alerts while a run trains. The monitor tool reuses the same rules
offline, so its reports and the live alerts agree."""

from trainforge.health.checks import RunFacts, evaluate, limit_per_rule
from trainforge.health.live import HealthMonitor
from trainforge.health.rules import Finding
from trainforge.health.series import Series, SeriesBuilder

__all__ = [
    "Finding",
    "HealthMonitor",
    "RunFacts",
    "Series",
    "SeriesBuilder",
    "evaluate",
    "limit_per_rule",
]
