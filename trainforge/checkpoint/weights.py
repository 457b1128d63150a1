"""Where the model weights are in a loaded file, whoever wrote it.

A file given as model weights may be a plain ``state_dict``, a trainforge checkpoint (weights
under ``"model"``) or another tool's checkpoint nesting the state dict under a common key
(Lightning's ``"state_dict"``, the ``"model_state_dict"`` of the PyTorch tutorials). One pure
function answers for both ``model.pretrained`` and ``trainforge ckpt --save``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

NESTED_KEYS = ("state_dict", "model_state_dict", "model")
"""Keys under which other tools commonly nest a state dict inside a bigger checkpoint."""

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes that wrappers add to every key: DistributedDataParallel and torch.compile."""


def is_trainforge_checkpoint(obj: object) -> bool:
    """A loaded trainforge checkpoint (as opposed to a plain or foreign state dict)."""
    return isinstance(obj, dict) and "format_version" in obj and isinstance(obj.get("model"), dict)


def find_model_weights(raw: object) -> dict[str, Tensor] | None:
    """The tensors of the model state in ``raw``, or None when it holds none.

    ``raw`` itself when any of its values is a tensor, else the first of ``NESTED_KEYS`` whose
    value is a dict holding tensors (a trainforge checkpoint's ``"model"`` included). Entries
    that are not tensors are dropped; keys keep any wrapper prefix (the caller knows the model
    the weights are for, and so whether to strip it).
    """
    if not isinstance(raw, Mapping):
        return None
    if not _has_tensors(raw):
        raw = next((raw[k] for k in NESTED_KEYS if _has_tensors(raw.get(k))), None)
        if raw is None:
            return None
    return {str(key): value for key, value in raw.items() if isinstance(value, Tensor)}


def describe_contents(raw: object) -> str:
    """A few words on what a file without weights holds, for an error message."""
    if isinstance(raw, Mapping):
        return f"a dict with keys {sorted(map(str, raw))[:10]}"
    return f"a {type(raw).__name__}"


def _has_tensors(value: Any) -> bool:
    return isinstance(value, Mapping) and any(isinstance(v, Tensor) for v in value.values())


__all__ = [
    "NESTED_KEYS",
    "WRAPPER_PREFIXES",
    "describe_contents",
    "find_model_weights",
    "is_trainforge_checkpoint",
]
