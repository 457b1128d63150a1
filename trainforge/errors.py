"""The exceptions trainforge raises for things a user can fix.

Every subclass carries a one-line message naming the problem and the fix; the CLI prints it
without a traceback and exits with the class's ``exit_code``.
"""

from __future__ import annotations


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
