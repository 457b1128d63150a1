"""Names a package exports but imports on first use (PEP 562), so that importing the package
stays cheap: ``trainforge --help`` imports no torch, the monitor reads its log before numpy
and polars load."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from the module ``table[name]``
    (absolute, or relative to ``package`` with a leading dot), imported on first use."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return __getattr__
