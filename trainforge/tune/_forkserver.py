"""What the trial forkserver imports before it forks any trial.

The forkserver dies with the worker that started it (Linux's parent-death signal), so a worker
killed with SIGKILL leaves no forkserver behind; each trial process arms the same signal
against the forkserver, so nothing of a dead worker keeps running. Then the libraries every
run imports are loaded once, here, instead of in every trial.
"""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except OSError:
        pass


die_with_parent()

import trainforge.tune.child  # noqa: E402,F401
