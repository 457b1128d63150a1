"""The exceptions trainforge raises for things a user can fix.

Every subclass carries a one-line message naming the problem and the fix; the CLI prints it
without a traceback and exits with the class's ``exit_code``.
"""

from __future__ import annotations

import contextlib


class TrainforgeError(Exception):
    """Base class: a problem the user can fix (bad config, flag, data or file)."""

    exit_code = 2


class ConfigError(TrainforgeError):
    """The configuration file or an override is invalid."""


class DataError(TrainforgeError):
    """The training, validation or test data cannot be used."""


class ModelError(TrainforgeError):
    """The model cannot be built or its weights cannot be loaded."""


class CheckpointError(TrainforgeError):
    """A checkpoint file is missing, damaged, unsafe or incompatible."""


class UnsafeCheckpointError(CheckpointError):
    """The file holds pickled Python objects (code) that weights-only loading refuses."""


class RunFolderError(TrainforgeError):
    """The run folder cannot be used (exists, locked, not writable)."""


class ExportError(TrainforgeError):
    """A model could not be exported or its export failed verification."""


class UsageError(TrainforgeError):
    """Command-line flags are invalid or contradict each other."""


class LogError(TrainforgeError):
    """A run's log cannot be read: missing, empty, or written by a newer trainforge."""


def shown(value: object, limit: int = 60) -> str:
    """A value as it belongs in a one-line message: numpy and torch scalars as plain numbers
    (``inf``, not ``np.float64(inf)``), text quoted with its line breaks escaped, long values
    cut."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        with contextlib.suppress(TypeError, ValueError):  # several values: keep them whole
            value = item()
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= limit else text[: limit - 3] + "..."
