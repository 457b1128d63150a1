"""The training monitor: reads a run folder (never the training code) and shows its health.

``watch`` draws a live terminal view, ``plot_curves`` a learning-curves PNG, ``analyze`` an
offline HTML diagnostics report and ``compare`` several runs side by side. The health rules
are :mod:`trainforge.health`'s, the same ones the run raised its live alerts with.

Names are imported on first use, so that a command starts reading its log before numpy and
polars load.
"""

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports

if TYPE_CHECKING:
    from trainforge.monitor._api import analyze, compare, plot_curves
    from trainforge.monitor._logfile import RunLog, read_log
    from trainforge.monitor._verdicts import Verdict
    from trainforge.monitor._watch import WatchState, watch

_LAZY = {
    "analyze": "._api",
    "compare": "._api",
    "plot_curves": "._api",
    "RunLog": "._logfile",
    "read_log": "._logfile",
    "Verdict": "._verdicts",
    "WatchState": "._watch",
    "watch": "._watch",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
