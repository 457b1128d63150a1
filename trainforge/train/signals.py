"""Preemption: SIGTERM, SIGINT and SIGUSR1 finish the current step, then the run saves and stops.

A second SIGINT aborts at once (the usual "press Ctrl-C twice").
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StopSignals:
    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is None:
            # Said at once: the stop itself waits for the step in progress and a save.
            print(
                f"{name} received: finishing this step, saving last.pth, then stopping "
                "(Ctrl-C again aborts without saving)",
                file=sys.stderr,
                flush=True,
            )
        self.received = name

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in HANDLED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def signum(self) -> int | None:
        return signal.Signals[self.received].value if self.received else None
