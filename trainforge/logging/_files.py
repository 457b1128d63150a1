"""An append-only log file that knows how far it has written.

Every log file in a run folder is appended line by line, flushed per line (the monitor tails
them live), and cut back on resume to the byte offset stored in the checkpoint, so a resumed
run never repeats records that were written after that checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

_CHUNK = 64 * 1024


def last_line_end(path: Path, size: int) -> int:
    """Offset just after the last newline in the first ``size`` bytes of ``path`` (0 if none).

    A process killed mid-write leaves a torn final line; appending after it would glue the
    next record onto the fragment, so writers resume from here instead.
    """
    if size <= 0:
        return 0
    with path.open("rb") as f:
        end = size
        while end > 0:
            start = max(0, end - _CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return start + cut + 1
            end = start
    return 0


class AppendFile:
    """Line-oriented appender: whole lines only, flushed each time, safe across threads."""

    def __init__(self, path: str | os.PathLike[str], *, truncate_at: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        # A stored offset past the end means the file lost data since the checkpoint (copied,
        # restored from backup): keep what is there rather than pad it.
        if truncate_at is not None:
            size = min(max(truncate_at, 0), size)
        keep = last_line_end(self.path, size)
        self._file = self.path.open("ab")
        self._file.truncate(keep)
        self._position = keep
        self._lock = threading.Lock()
        self._closed = False

    def write_line(self, text: str) -> None:
        data = (text.rstrip("\n") + "\n").encode("utf-8")
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path} is closed; cannot log to it")
            # One write call per line keeps a concurrent reader from seeing half of one
            # in the common case; read_jsonl copes with the rest.
            self._file.write(data)
            self._file.flush()
            self._position += len(data)

    def position(self) -> int:
        """Byte offset after the last complete line written."""
        return self._position

    def truncate(self, offset: int) -> None:
        """Cut the file back to ``offset`` (a stored position), e.g. on a rollback."""
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path} is closed; cannot truncate it")
            self._file.flush()
            keep = last_line_end(self.path, min(max(int(offset), 0), self._position))
            self._file.truncate(keep)
            self._position = keep

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._file.flush()
            # Once per run is cheap, and a finished run's logs then survive a power loss.
            with contextlib.suppress(OSError):
                os.fsync(self._file.fileno())
            self._file.close()
