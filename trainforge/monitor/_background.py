"""One call run on a side thread, its result (or its error) collected later.

The monitor's big-log commands overlap work that does not hold the GIL (reading a file,
polars' parser, numpy's array loops) with Python work on the main thread (imports, drawing).
This module imports nothing heavy, so a command starts reading its log before numpy loads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from trainforge.errors import LogError

T = TypeVar("T")


class Background(Generic[T]):
    """``function(*args)`` started on a side thread; :meth:`result` waits for it and returns
    its value or raises what it raised, on the caller's thread."""

    def __init__(self, function: Callable[..., T], *args: object, name: str = "monitor") -> None:
        self._function = function
        self._args = args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._function(*self._args)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def read_bytes(path: Path) -> bytes:
    """A whole metrics log; a one-line LogError when it is missing, a folder or unreadable."""
    if path.is_dir():
        raise LogError(f"{path} is a folder; pass the metrics log file (logs/metrics.json)")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LogError(
            f"no metrics log at {path}; pass a run's logs/metrics.json (has the run started?)"
        ) from None
    except OSError as exc:
        raise LogError(f"cannot read {path}: {exc.strerror or exc}") from None


class Prefetch(Background[bytes]):
    """A whole log read on a side thread: reading does not hold the GIL, so the imports the
    command needs next go on meanwhile. :meth:`result` returns the bytes or raises what
    reading raised (a one-line LogError)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(read_bytes, self.path, name="monitor-read")
