"""The one way trainforge writes a time: ISO 8601 in UTC, to the second (metadata, listings)."""

from __future__ import annotations

from datetime import datetime, timezone


def iso_time(t: float) -> str:
    """``t`` (seconds since the epoch) as ``2026-12-01T14:10:33+00:00``."""
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")


__all__ = ["iso_time"]
