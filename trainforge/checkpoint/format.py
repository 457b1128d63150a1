"""The checkpoint file: one ``torch.save`` zip holding plain values and tensors.

Three promises, each for a failure seen in real training runs:

* **Atomic writes.** A crash, a kill or a full disk while saving must never destroy the last
  good checkpoint, so the file is written under a temporary name in the same folder, fsynced
  and then renamed over the old one (a rename within one filesystem is atomic).
* **Safe to load.** Loading only ever uses ``torch.load(weights_only=True)``: a checkpoint from
  a colleague or the internet cannot run code. Saving rejects anything that would need more.
* **Damage is named.** torch reports a truncated or corrupted file with a dozen different
  exceptions (and does not notice a flipped bit in tensor data at all); a checksum over the
  values and one classifying function turn all of them into one clear ``CheckpointError``.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from trainforge._fileio import atomic_write
from trainforge.checkpoint._canonical import (
    UnsupportedValueError,
    check_state,
    compute_checksum,
)
from trainforge.errors import CheckpointError, UnsafeCheckpointError

__all__ = [
    "FORMAT_VERSION",
    "is_valid_checkpoint",
    "load_checkpoint",
    "load_state_dict_file",
    "save_checkpoint",
    "verify_checkpoint",
]

FORMAT_VERSION = 1
"""Bumped whenever a reader of the old layout would misread the new one."""

_ADVICE = "use another checkpoint, e.g. an epoch_NNN.pth"

# The messages torch's weights-only unpickler uses when a file references code or classes it
# does not allow (as opposed to a file it cannot parse at all). Matched on text because all of
# them are the same exception type, pickle.UnpicklingError.
_UNSAFE_PATTERN = re.compile(
    r"unsupported global|whose module \S+ is blocked|can only create new object"
    r"|trying to call reduce|can only build tensor|must be imported to load",
    re.IGNORECASE,
)
_GLOBAL_NAME = re.compile(r"GLOBAL (\S+?)(?: was| whose|\s|$)")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically, adding ``format_version`` and ``checksum``.

    ``state`` may hold only dicts, lists, tuples, str, int, float, bool, None and tensors;
    anything else raises ``CheckpointError`` naming the key, before any file is touched.
    A ``format_version`` or ``checksum`` already in ``state`` (a re-saved checkpoint) is
    replaced. ``state`` itself is not modified. Returns the path written.

    Only one writer per path at a time: the temporary name is unique per process, not per
    thread.
    """
    target = Path(path)
    if not isinstance(state, dict):
        raise CheckpointError(
            f"cannot save checkpoint {target}: the state must be a dict, got {type(state).__name__}"
        )
    try:
        check_state(state)
    except UnsupportedValueError as exc:
        raise CheckpointError(f"cannot save checkpoint {target}: {exc}") from None
    if target.is_dir():
        raise CheckpointError(f"cannot save checkpoint {target}: it is an existing folder")
    if not target.parent.is_dir():
        raise CheckpointError(
            f"cannot save checkpoint {target}: the folder {target.parent} does not exist"
        )

    payload: dict[str, Any] = {"format_version": FORMAT_VERSION}
    payload.update(
        (key, value) for key, value in state.items() if key not in ("format_version", "checksum")
    )
    payload["checksum"] = compute_checksum(payload)
    _write_atomically(payload, target)
    return target


def _write_atomically(payload: dict[str, Any], target: Path) -> None:
    had_previous = target.exists()

    def write(temp: Path) -> None:
        # Passing an open file (not a path) lets OSErrors such as ENOSPC surface with their
        # errno (torch chains them onto its own RuntimeError), so the message can say why.
        with open(temp, "wb") as handle:
            torch.save(payload, handle)

    try:
        atomic_write(target, write)
    except Exception as exc:
        outcome = "the previous checkpoint is intact" if had_previous else "no file was written"
        raise CheckpointError(
            f"could not write checkpoint {target}: {_write_failure_reason(exc)}; {outcome}"
        ) from exc


def _write_failure_reason(exc: BaseException) -> str:
    # Walk the cause/context chain: torch wraps the OSError from the file write in a
    # RuntimeError whose own message ("unexpected pos 576 vs 534") explains nothing.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            text = os.strerror(current.errno)
            return text[:1].lower() + text[1:]
        current = current.__cause__ or current.__context__
    return _first_line(exc)


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: torch.serialization.MAP_LOCATION = "cpu",
    *,
    verify: bool = True,
    require_trainforge: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)`` and check it.

    Raises ``CheckpointError`` (one line, naming the file) when the file is missing, damaged,
    would need arbitrary unpickling, fails its checksum (only checked with ``verify``), comes
    from a newer trainforge, or, with ``require_trainforge``, is not a trainforge checkpoint
    (e.g. a plain state dict, which is then returned unchanged when the flag is off).
    """
    source = Path(path)
    loaded = _load_weights_only(source, map_location)
    if not isinstance(loaded, dict):
        raise CheckpointError(
            f"{source} is not a trainforge checkpoint: it holds a {type(loaded).__name__}, "
            "not a dict"
        )
    if "format_version" not in loaded:
        if require_trainforge:
            raise CheckpointError(
                f"{source} is not a trainforge checkpoint (it has no format_version): it looks "
                "like a plain PyTorch state dict, which can be loaded as model weights but not "
                "resumed from"
            )
        return loaded
    _check_trainforge_checkpoint(source, loaded, verify)
    return loaded


def load_state_dict_file(
    path: str | os.PathLike[str], map_location: torch.serialization.MAP_LOCATION = "cpu"
) -> dict[str, Any]:
    """Load a plain state dict (e.g. pretrained weights), still with ``weights_only=True``.

    A trainforge checkpoint is accepted too: it is checked like ``load_checkpoint`` does and
    returned whole, so the caller picks its ``"model"`` entry.
    """
    return load_checkpoint(path, map_location, verify=True, require_trainforge=False)


def verify_checkpoint(path: str | os.PathLike[str]) -> tuple[bool, str]:
    """``(True, "ok ...")`` for a loadable, intact checkpoint, else ``(False, reason)``."""
    try:
        state = load_checkpoint(path, "cpu", verify=True, require_trainforge=True)
    except CheckpointError as exc:
        return False, str(exc)
    return True, f"ok (format {state['format_version']}, checksum verified)"


def is_valid_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an intact trainforge checkpoint this version can load."""
    return verify_checkpoint(path)[0]


def _check_trainforge_checkpoint(source: Path, state: dict[str, Any], verify: bool) -> None:
    version = state["format_version"]
    if type(version) is not int or version < 1:
        raise _damaged(source, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{source} has checkpoint format {version}, newer than this trainforge supports "
            f"({FORMAT_VERSION}); upgrade trainforge to load it"
        )
    if not verify:
        return
    stored = state.get("checksum")
    if not isinstance(stored, str):
        raise _damaged(source, "its checksum is missing")
    try:
        actual = compute_checksum(state)
    except UnsupportedValueError as exc:
        what = exc.problem.split(";")[0].removeprefix("is ")
        raise _damaged(source, f"it holds {what}, which trainforge never writes") from None
    except RecursionError:
        raise _damaged(source, "it contains a reference cycle") from None
    if actual != stored:
        raise CheckpointError(
            f"{source} failed its checksum (the file was modified or corrupted); {_ADVICE}"
        )


def _looks_like_text(source: Path) -> bool:
    """A YAML, JSON or CSV file passed where a checkpoint belongs (the common mix-up)."""
    try:
        with open(source, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    if len(head) < 16 or head.startswith((b"PK", b"\x80")):  # torch's zip, a legacy pickle
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the 512-byte boundary
            return False
        text = head[: exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _load_weights_only(source: Path, map_location: torch.serialization.MAP_LOCATION) -> Any:
    if not source.exists():
        raise CheckpointError(f"checkpoint {source} does not exist")
    if source.is_dir():
        raise CheckpointError(f"{source} is a folder, not a checkpoint file")
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {source}: {exc.strerror}") from None
    if size == 0:
        raise _damaged(source, "the file is empty")
    if _looks_like_text(source):
        raise CheckpointError(
            f"{source} is a text file, not a checkpoint (a .pth file is a zip archive); pass "
            "a checkpoint such as run/checkpoints/last.pth"
        )
    try:
        with warnings.catch_warnings():
            # A non-torch pickle makes torch warn about its protocol before failing; the
            # error that follows says everything useful.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch signals damage with many unrelated types: classify all
        raise _classify_load_error(source, exc) from exc


def _classify_load_error(source: Path, exc: Exception) -> CheckpointError:
    if isinstance(exc, PermissionError):
        return CheckpointError(f"cannot read checkpoint {source}: permission denied")
    message = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and _UNSAFE_PATTERN.search(message):
        found = _GLOBAL_NAME.search(message)
        detail = f"; it references {found.group(1)}" if found else ""
        return UnsafeCheckpointError(
            f"{source} contains pickled Python objects that trainforge refuses to load "
            f"(it could run code{detail}); only load checkpoints you trust with torch.load "
            "directly"
        )
    if isinstance(exc, EOFError):
        return _damaged(source, "unexpected end of file")
    if isinstance(exc, pickle.UnpicklingError):
        # The useful part of torch's long text is what follows this marker (on the same line
        # or the next one), e.g. "Unsupported operand 149" for a file that is not a torch zip.
        _, marker, rest = message.partition("WeightsUnpickler error:")
        detail = rest.strip().splitlines()[0].strip() if marker and rest.strip() else ""
        if detail:
            return _damaged(source, f"the unpickler stopped: {detail}")
    if isinstance(exc, OSError) and exc.strerror:
        # A read past the end of a cut zip surfaces as EINVAL from the seek.
        return _damaged(source, f"read failed: {exc.strerror}")
    return _damaged(source, _first_line(exc))


def _damaged(source: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{source} is damaged (truncated or corrupted: {reason}); {_ADVICE}")


def _first_line(exc: BaseException) -> str:
    """The exception's first sentence, short enough for a one-line message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # torch appends advice paragraphs after the first sentence ("This is an internal miniz
    # error. If you are seeing this error...").
    text = text.split(". ", 1)[0].rstrip(".")
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
