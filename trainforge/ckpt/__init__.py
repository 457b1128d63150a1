"""Checkpoints: the crash-safe, weights-only file format, the checkpoint manager's decisions
(best by metric, retention), full checkpoints from state-dict files, and the model registry."""

from trainforge.ckpt.assemble import assemble
from trainforge.ckpt.catalog import CatalogEntry, scan
from trainforge.ckpt.format import (
    FORMAT_VERSION,
    is_valid_checkpoint,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    verify_checkpoint,
)
from trainforge.ckpt.registry import Registry
from trainforge.ckpt.selection import Candidate, PrunePlan, plan_prune, select_best

__all__ = [
    "FORMAT_VERSION",
    "Candidate",
    "CatalogEntry",
    "PrunePlan",
    "Registry",
    "assemble",
    "is_valid_checkpoint",
    "load_checkpoint",
    "load_state_dict_file",
    "plan_prune",
    "save_checkpoint",
    "scan",
    "select_best",
    "verify_checkpoint",
]
