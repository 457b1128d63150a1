"""The checkpoint manager tool: listing, best-by-metric selection, retention, full
checkpoints from state-dict files, the model registry and export (``export/``).

The file format itself lives below the trainer, in ``trainforge.checkpoint``.
"""

from trainforge.ckpt.assemble import assemble
from trainforge.ckpt.catalog import CatalogEntry, scan
from trainforge.ckpt.registry import Registry
from trainforge.ckpt.selection import Candidate, PrunePlan, plan_prune, select_best

__all__ = [
    "Candidate",
    "CatalogEntry",
    "PrunePlan",
    "Registry",
    "assemble",
    "plan_prune",
    "scan",
    "select_best",
]
