"""What the builders need to know about the data, and the checks every builder shares.

Builders accept anything shaped like ``trainforge.data.InputSpec`` (``SpecLike``), so this
package does not import the data package: models stay buildable from a spec read back out of
a checkpoint, or from a hand-written stand-in in tests.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Protocol

from trainforge.config import ModelConfig
from trainforge.errors import ModelError


class SpecLike(Protocol):
    """The four fields of ``InputSpec`` a model depends on (read-only, so any dataclass fits)."""

    @property
    def kind(self) -> str: ...  # "image" or "tabular"

    @property
    def shape(self) -> Sequence[int]: ...  # one sample: [C, H, W] or [F]

    @property
    def task(self) -> str: ...  # "classification" or "regression"

    @property
    def num_classes(self) -> int | None: ...


def num_outputs(cfg: ModelConfig, spec: SpecLike) -> int:
    """Width of the model's last layer: the class count, or 1 for regression."""
    if spec.task == "regression":
        if cfg.num_classes not in (None, 1):
            raise ModelError(
                f"model.num_classes is {cfg.num_classes} but the data is a regression task "
                "(one output); remove model.num_classes"
            )
        return 1
    from_cfg, from_data = cfg.num_classes, spec.num_classes
    if from_cfg is not None and from_data is not None and from_cfg != from_data:
        raise ModelError(
            f"model.num_classes is {from_cfg} but the data has {from_data} classes; "
            "remove model.num_classes (it is inferred from the data) or fix the data"
        )
    resolved = from_cfg if from_cfg is not None else from_data
    if resolved is None:
        raise ModelError("the number of classes is unknown: set model.num_classes")
    return resolved


def image_shape(spec: SpecLike, architecture: str) -> tuple[int, int, int]:
    """[C, H, W] of an image spec; tabular data gets an error that points at mlp."""
    shape = tuple(spec.shape)
    if spec.kind != "image":
        raise ModelError(
            f"model.architecture '{architecture}' needs image input, but the data is "
            f"{spec.kind} with shape {list(shape)}; use architecture: mlp for tabular data"
        )
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError(
            f"model.architecture '{architecture}' needs images of shape [C, H, W], "
            f"got {list(shape)}"
        )
    channels, height, width = shape
    return channels, height, width


def flat_size(spec: SpecLike) -> int:
    """Number of values in one sample, whatever its shape."""
    return math.prod(spec.shape)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""
