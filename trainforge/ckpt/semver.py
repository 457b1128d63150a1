"""Semantic versions for registered models: MAJOR.MINOR.PATCH, parsed, compared and bumped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from trainforge.errors import UsageError

_PATTERN = re.compile(r"v?(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")
BUMPS = ("major", "minor", "patch")
FIRST = "1.0.0"


class Version(NamedTuple):
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse(text: str) -> Version:
    """'1.2.3' or 'v1.2.3' -> Version(1, 2, 3)."""
    found = _PATTERN.fullmatch(text.strip())
    if found is None:
        raise UsageError(f"'{text}' is not a version MAJOR.MINOR.PATCH (e.g. 1.2.0)")
    return Version(*(int(part) for part in found.groups()))


def is_version(text: str) -> bool:
    return _PATTERN.fullmatch(text.strip()) is not None


def bump(version: Version, part: str) -> Version:
    if part == "major":
        return Version(version.major + 1, 0, 0)
    if part == "minor":
        return Version(version.major, version.minor + 1, 0)
    if part == "patch":
        return Version(version.major, version.minor, version.patch + 1)
    raise UsageError(f"--bump must be one of {', '.join(BUMPS)}, got '{part}'")


def latest(versions: Iterable[str]) -> Version | None:
    parsed = [parse(v) for v in versions]
    return max(parsed) if parsed else None


def next_version(existing: Iterable[str], *, bump_part: str | None, explicit: str | None) -> str:
    """The version a new registration gets.

    First registration: ``explicit`` or 1.0.0. Later ones: ``explicit``, or the highest
    existing version bumped by ``bump_part`` (minor when not given). An explicit version that
    exists already is refused: registered versions never change.
    """
    taken = list(existing)
    if explicit is not None and bump_part is not None:
        raise UsageError("give either --version X.Y.Z or --bump major|minor|patch, not both")
    if explicit is not None:
        chosen = str(parse(explicit))
        if chosen in {str(parse(v)) for v in taken}:
            raise UsageError(
                f"version {chosen} is already registered; registered versions never change, "
                "so pick another --version or use --bump"
            )
        return chosen
    top = latest(taken)
    if top is None:
        return FIRST
    return str(bump(top, bump_part or "minor"))


def sort_key(text: str) -> Version:
    return parse(text)


__all__ = ["BUMPS", "FIRST", "Version", "bump", "is_version", "latest", "next_version", "parse"]
