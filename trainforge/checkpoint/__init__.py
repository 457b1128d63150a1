"""The checkpoint file format: crash-safe, checksummed, weights-only save and load.

This package is the core the trainer, the models and the tools stand on; it imports only
``errors`` and the file helpers (and torch). The checkpoint *manager* (listing, selection,
registry, export) is the tool in ``trainforge.ckpt``.
"""

from trainforge.checkpoint.format import (
    FORMAT_VERSION,
    is_valid_checkpoint,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    verify_checkpoint,
)
from trainforge.checkpoint.weights import (
    WRAPPER_PREFIXES,
    describe_contents,
    find_model_weights,
    is_trainforge_checkpoint,
)

__all__ = [
    "FORMAT_VERSION",
    "WRAPPER_PREFIXES",
    "describe_contents",
    "find_model_weights",
    "is_trainforge_checkpoint",
    "is_valid_checkpoint",
    "load_checkpoint",
    "load_state_dict_file",
    "save_checkpoint",
    "verify_checkpoint",
]
