"""A stand-in for trainforge.data.InputSpec: the models package only reads these four fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

# Imported here, once per test process, so that its ~2 s import time is not charged to
# whichever torchvision test happens to run first.
import torchvision  # noqa: F401


@dataclass
class Spec:
    kind: str = "image"
    shape: list[int] = field(default_factory=lambda: [1, 8, 8])
    task: str = "classification"
    num_classes: int | None = 10


@pytest.fixture
def make_spec() -> Callable[..., Spec]:
    return Spec
