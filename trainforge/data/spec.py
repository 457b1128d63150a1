"""What a model expects as input, and how raw data is turned into it.

Stored in every checkpoint (``spec.to_dict()``), so evaluation, prediction and export apply
exactly the transform the model was trained with. Only plain python values live here:
checkpoints are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
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
        return cls(**{k: v for k, v in d.items() if k in names})


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
