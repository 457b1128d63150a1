"""Hyperparameter search on Optuna: each trial a real trainforge run in its own process.

Public names: ``TuneConfig`` and ``load_tuning_config`` (the tuning config), ``Plan`` and
``run_search`` (a search), ``analyze`` (the HTML report), ``DEFAULT_STORAGE``.
"""

from trainforge.config.tuning import TuneConfig, load_tuning_config
from trainforge.tune.engine import DEFAULT_STORAGE
from trainforge.tune.study import Plan, run_search

__all__ = ["DEFAULT_STORAGE", "Plan", "TuneConfig", "analyze", "load_tuning_config", "run_search"]


def __getattr__(name: str) -> object:
    if name == "analyze":  # plotly is imported only for a report
        from trainforge.tune.report import analyze

        return analyze
    raise AttributeError(f"module 'trainforge.tune' has no attribute {name!r}")
