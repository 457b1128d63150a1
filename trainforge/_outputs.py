"""The one check before a tool writes a file the user named (``--output``, ``--plot``).

trainforge never replaces what it did not write: an output that is one of the command's inputs
is refused, a checkpoint is refused (a results table written over ``best.pth`` destroys a
model), and any other existing file is replaced only when it is recognisably this tool's own
earlier product, or with ``--force``. No torch here: the check runs before anything heavy.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from trainforge.errors import UsageError

Recogniser = Callable[[Path], bool]

# Reading more than this to recognise a file is never needed: every product is recognised by
# its first bytes or a small JSON document.
_SNIFF_BYTES = 1 << 20


def guard_output(
    path: str | os.PathLike[str],
    *,
    flag: str = "--output",
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    own: Recogniser | None = None,
    force: bool = False,
    checkpoint_ok: bool = False,
) -> Path:
    """``path`` if the tool may write it, else ``UsageError`` naming why and the fix.

    ``inputs`` are the files the command reads; ``own`` recognises the tool's own earlier
    output (replaced without asking); ``force`` allows replacing any other file except an
    input, and a checkpoint only when ``checkpoint_ok`` (tools that write checkpoints).
    """
    target = Path(path)
    for source in inputs:
        if source is not None and same_file(target, Path(source)):
            raise UsageError(
                f"{flag} {target} is also an input of this command ({source}); "
                "write the result to another file"
            )
    if target.is_dir():
        raise UsageError(f"{flag} {target} is a folder; give a file name")
    if not (target.exists() or target.is_symlink()):
        return target
    if own is not None and not target.is_symlink() and own(target):
        return target
    if is_checkpoint_file(target) and not (checkpoint_ok and force):
        fix = "pass --force to replace it or " if checkpoint_ok else ""
        raise UsageError(
            f"{flag} {target} is an existing checkpoint; {fix}choose another file "
            "(trainforge never writes over a checkpoint)"
        )
    if not force:
        raise UsageError(
            f"{flag} {target} already exists and was not written by this tool; "
            "pass --force to replace it or choose another file"
        )
    return target


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links and relative spellings)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a symlink loop resolves to nothing: not the same
        return False


def is_checkpoint_file(path: Path) -> bool:
    """A torch zip archive (what ``torch.save`` writes, trainforge's or anyone's)."""
    try:
        if not path.is_file() or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def json_keys(path: Path) -> set[str]:
    """Top-level keys of a small JSON object file; empty for anything else."""
    try:
        if path.stat().st_size > _SNIFF_BYTES:
            return set()
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return set(data) if isinstance(data, dict) else set()


def is_predictions_csv(path: Path) -> bool:
    first = head(path, 256).split(b"\n", 1)[0]
    return first.startswith((b"id,class_index,class_name", b"id,prediction"))


def is_evaluation_json(path: Path) -> bool:
    return {"checkpoint", "data", "task", "metrics"} <= json_keys(path)


PNG_SOFTWARE = "trainforge evaluate"


def is_own_png(path: Path) -> bool:
    """A PNG whose text chunk says trainforge wrote it (``PNG_SOFTWARE``)."""
    data = head(path, 4096)
    return data.startswith(b"\x89PNG") and PNG_SOFTWARE.encode() in data
