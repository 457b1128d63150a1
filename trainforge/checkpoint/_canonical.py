"""What a checkpoint may contain, and the checksum computed over it.

A checkpoint must load with ``torch.load(weights_only=True)`` and no extra safe globals, so
the state is restricted to plain containers, plain scalars and dense tensors. Checking this
before writing turns a confusing failure at load time (possibly months later, on another
machine) into a clear one at save time, naming the exact key.

The checksum is computed over the loaded *values*, not over the file's bytes: the zip layout
``torch.save`` writes is not something we control, while the values are what a resume relies
on. A bit flip inside tensor data, which torch itself never notices, changes the checksum.
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from typing import Any

import torch

# Exact types only: a subclass (an ``IntEnum``, a ``StrEnum``, a namedtuple, a defaultdict)
# pickles as a reference to its class, which ``weights_only`` refuses to load.
_SCALAR_TYPES: tuple[type, ...] = (str, int, float, bool, type(None))
_MAPPING_TYPES: tuple[type, ...] = (dict, OrderedDict)
_SEQUENCE_TYPES: tuple[type, ...] = (list, tuple)
_TENSOR_TYPES: tuple[type, ...] = (torch.Tensor, torch.nn.Parameter)

ALLOWED_TYPES_TEXT = "dict, OrderedDict, list, tuple, str, int, float, bool, None and torch tensors"


class UnsupportedValueError(TypeError):
    """A value that a trainforge checkpoint cannot hold; ``key_path`` says where it is."""

    def __init__(self, key_path: str, problem: str) -> None:
        super().__init__(f"{key_path} {problem}")
        self.key_path = key_path
        self.problem = problem


def _type_name(value: object) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _is_key(key: object) -> bool:
    if type(key) in _SCALAR_TYPES:
        return True
    return type(key) is tuple and all(_is_key(part) for part in key)


def _tensor_problem(tensor: torch.Tensor) -> str | None:
    if tensor.layout != torch.strided:
        return f"is a {tensor.layout} tensor; convert it with .to_dense() before saving"
    if tensor.is_quantized:
        return "is a quantized tensor; dequantize it before saving"
    if tensor.device.type == "meta":
        return "is a tensor on the meta device, which has no data to save"
    return None


def check_state(value: Any, key_path: str = "state") -> None:
    """Raise ``UnsupportedValueError`` for the first value that is not checkpoint-safe."""
    _check(value, key_path, set())


def _check(value: Any, key_path: str, ancestors: set[int]) -> None:
    kind = type(value)
    if kind in _SCALAR_TYPES:
        return
    if kind in _TENSOR_TYPES:
        problem = _tensor_problem(value)
        if problem is not None:
            raise UnsupportedValueError(key_path, problem)
        return
    if kind not in _MAPPING_TYPES and kind not in _SEQUENCE_TYPES:
        raise UnsupportedValueError(
            key_path,
            f"is a {_type_name(value)}; a checkpoint may hold only {ALLOWED_TYPES_TEXT} "
            "(convert it first, e.g. numpy arrays with torch.from_numpy, paths with str)",
        )
    # Only cycles are an error; the same list reachable twice is fine.
    if id(value) in ancestors:
        raise UnsupportedValueError(key_path, "contains itself (a reference cycle)")
    ancestors.add(id(value))
    if kind in _MAPPING_TYPES:
        for key, item in value.items():
            if not _is_key(key):
                raise UnsupportedValueError(
                    key_path,
                    f"has a key of type {_type_name(key)}; keys must be str, int, float, bool, "
                    "None or tuples of those",
                )
            _check(item, f"{key_path}[{key!r}]", ancestors)
    else:
        for index, item in enumerate(value):
            _check(item, f"{key_path}[{index}]", ancestors)
    ancestors.discard(id(value))


# --- checksum ---------------------------------------------------------------------------
# Every item is written with a one-byte type tag and length prefixes, so that no two
# different structures produce the same byte stream (["ab"] vs ["a", "b"], 1 vs 1.0 vs True).


def _u64(number: int) -> bytes:
    return struct.pack("<Q", number)


def _encode_scalar(value: Any) -> bytes:
    if value is None:
        return b"N"
    if type(value) is bool:  # before int: bool is a subclass of int
        return b"B1" if value else b"B0"
    if type(value) is int:
        text = str(value).encode("ascii")
        return b"I" + _u64(len(text)) + text
    if type(value) is float:
        return b"F" + struct.pack("<d", value)
    if type(value) is str:
        data = value.encode("utf-8", "surrogatepass")
        return b"S" + _u64(len(data)) + data
    if type(value) is tuple:  # only reached for dict keys
        return b"T" + _u64(len(value)) + b"".join(_encode_scalar(part) for part in value)
    raise UnsupportedValueError("value", f"is a {_type_name(value)}")


def _update(digest: Any, value: Any) -> None:
    kind = type(value)
    if kind in _TENSOR_TYPES:
        tensor = value.detach().resolve_conj().resolve_neg().cpu().contiguous()
        header = f"{tensor.dtype}|{tuple(tensor.shape)}".encode("ascii")
        digest.update(b"X" + _u64(len(header)) + header)
        # reshape(-1) first: a 0-dim tensor cannot be viewed as a different element size.
        raw = tensor.reshape(-1).view(torch.uint8)
        digest.update(_u64(raw.numel()))
        digest.update(raw.numpy().data)
    elif kind in _MAPPING_TYPES:
        # Sorted by the keys' encoding, so insertion order (which torch preserves anyway)
        # and mixed key types (int parameter ids next to str names) never matter.
        entries = sorted(
            ((_encode_scalar(key), item) for key, item in value.items()),
            key=lambda entry: entry[0],
        )
        digest.update(b"D" + _u64(len(entries)))
        for encoded_key, item in entries:
            digest.update(encoded_key)
            _update(digest, item)
    elif kind is list or kind is tuple:
        digest.update((b"L" if kind is list else b"T") + _u64(len(value)))
        for item in value:
            _update(digest, item)
    else:
        digest.update(_encode_scalar(value))


def compute_checksum(state: dict[Any, Any], exclude: str = "checksum") -> str:
    """``sha256:<hex>`` over the canonical form of ``state``, leaving out the key ``exclude``."""
    digest = hashlib.sha256()
    _update(digest, {key: item for key, item in state.items() if key != exclude})
    return f"sha256:{digest.hexdigest()}"
