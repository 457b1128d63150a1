"""One call run on a side thread, its result (or its error) collected later.

The monitor's big-log commands overlap work that does not hold the GIL (reading a file,
polars' parser, numpy's array loops) with Python work on the main thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

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
