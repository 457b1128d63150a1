"""Checkpoints: the crash-safe, weights-only file format (save policies and registry join later)."""

from trainforge.ckpt.format import (
    FORMAT_VERSION,
    is_valid_checkpoint,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    verify_checkpoint,
)

__all__ = [
    "FORMAT_VERSION",
    "is_valid_checkpoint",
    "load_checkpoint",
    "load_state_dict_file",
    "save_checkpoint",
    "verify_checkpoint",
]
