"""Writing one checkpoint state to several files at the end of an epoch (best.pth, last.pth,
epoch_NNN.pth): the state is serialised and checksummed once, the other files are copies.

Copies, not hard links: trainforge replaces its files by rename, which would leave a link
intact, but a user or a sync tool that edits one file in place would silently change both.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trainforge._fileio import atomic_write
from trainforge.errors import CheckpointError


def write_checkpoint(state: dict[str, Any], target: Path, copy_of: Path | None = None) -> Path:
    """Write ``state`` to ``target`` atomically; ``copy_of`` names a file this very state was
    just written to, whose bytes are then copied instead of serialising the state again."""
    if copy_of is None:
        from trainforge.checkpoint.format import save_checkpoint

        return save_checkpoint(state, target)
    had_previous = target.exists()
    try:
        atomic_write(target, lambda temp: shutil.copyfile(copy_of, temp))
    except OSError as exc:
        outcome = "the previous checkpoint is intact" if had_previous else "no file was written"
        reason = exc.strerror or str(exc)
        raise CheckpointError(
            f"could not write checkpoint {target}: {reason[:1].lower() + reason[1:]}; {outcome}"
        ) from exc
    return target
