"""What a model expects as input, and how raw data is turned into it.

Stored in every checkpoint (``spec.to_dict()``), so evaluation, prediction and export apply
exactly the transform the model was trained with. Only plain python values live here:
checkpoints are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, cast

Kind = Literal["image", "tabular"]
Task = Literal["classification", "regression"]
SOURCE_FORMATS = ("csv", "csv_pixels", "image_folder", "builtin", "custom")


@dataclass
class InputSpec:
    """One sample as the model sees it, plus the statistics that produced it.

    ``preprocessing`` holds, for tabular data, ``mean``/``std`` per feature; for images,
    ``input_layout`` ("flat" for pixel CSV rows, "nchw" otherwise), ``channels``,
    ``image_size`` [H, W], ``resize`` ([H, W] or None), ``pixel_scale``, ``normalize`` and
    the per-channel ``mean``/``std`` applied after scaling. Custom datasets: empty.
    """

    kind: Kind
    shape: list[int]
    task: Task
    num_classes: int | None
    class_names: list[str] | None
    feature_names: list[str] | None
    source_format: str
    target_column: str | None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain python values (lists, floats, ints, str, None)."""
        return cast(dict[str, Any], _plain(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        """Rebuild a spec written by :meth:`to_dict` (unknown keys from newer versions are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in d
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise ValueError(f"input spec lacks {', '.join(missing)}")
        problem = spec_problem(d)
        if problem:
            raise ValueError(f"input spec: {problem}")
        return cls(**{k: v for k, v in d.items() if k in names})


# One sample of more values than this is no input trainforge made (a 4096x4096 RGB image has
# 50 million); a forged spec must not make the loader allocate without bound.
MAX_SAMPLE_VALUES = 2**26


def spec_problem(d: dict[str, Any]) -> str | None:
    """What is wrong with a spec read from a file (a checkpoint is data: it may be forged),
    or None. Checks what the loader relies on, before anything is allocated from it."""
    shape: Any = d.get("shape")
    if d.get("kind") not in ("image", "tabular") or d.get("task") not in (
        "classification",
        "regression",
    ):
        return f"kind {d.get('kind')!s:.20} / task {d.get('task')!s:.20} is not a known pair"
    wanted = 3 if d["kind"] == "image" else 1
    if not (_ints(shape, 1) and len(shape) == wanted):
        return f"shape must be {wanted} positive whole number(s)"
    if math.prod(shape) > MAX_SAMPLE_VALUES:
        return f"one sample of {math.prod(shape):,} values is larger than any trainforge input"
    classes = d.get("num_classes")
    if classes is not None and not (_ints([classes], 1) and classes <= 1_000_000):
        return "num_classes must be a positive whole number"
    for key in ("class_names", "feature_names"):
        value = d.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return f"{key} must be a list of strings"
    if d.get("source_format") not in SOURCE_FORMATS:
        return "source_format is not one trainforge writes"
    return _preprocessing_problem(d.get("preprocessing"), d["kind"], shape)


def _preprocessing_problem(p: Any, kind: str, shape: list[int]) -> str | None:
    if p is None or p == {}:
        return None
    if not isinstance(p, dict):
        return "preprocessing must be a mapping"
    width = shape[0]  # features of a row, or channels of an image
    for key in ("mean", "std"):
        values = p.get(key)
        if not (
            isinstance(values, list)
            and len(values) == width
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)
        ):
            return f"preprocessing {key} must be {width} finite numbers"
    if kind == "image":
        scale = p.get("pixel_scale")
        if not isinstance(scale, (int, float)) or not math.isfinite(scale):
            return "preprocessing pixel_scale must be a finite number"
        if p.get("input_layout") not in ("flat", "nchw"):
            return "preprocessing input_layout must be flat or nchw"
    return None


def _ints(values: Any, least: int) -> bool:
    return isinstance(values, list) and all(type(v) is int and v >= least for v in values)


def _plain(value: Any) -> Any:
    """Convert numpy scalars, tuples and nested containers into python built-ins."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"input spec holds a {type(value).__name__}, which a checkpoint cannot store")
