"""The training monitor: reads a run folder (never the training code) and shows its health.

``watch`` draws a live terminal view, ``plot_curves`` a learning-curves PNG, ``analyze`` an
offline HTML diagnostics report and ``compare`` several runs side by side. The health rules
are :mod:`trainforge.health`'s, the same ones the run raised its live alerts with.
"""

from trainforge.monitor._api import analyze, compare, plot_curves
from trainforge.monitor._logfile import RunLog, read_log
from trainforge.monitor._verdicts import Verdict
from trainforge.monitor._watch import WatchState, watch

__all__ = [
    "RunLog",
    "Verdict",
    "WatchState",
    "analyze",
    "compare",
    "plot_curves",
    "read_log",
    "watch",
]
