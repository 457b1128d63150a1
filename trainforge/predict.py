"""Predictions of a checkpoint for a CSV file, an image folder or builtin:NAME, as a CSV table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from trainforge._fileio import atomic_write
from trainforge.errors import UsageError
from trainforge.inference import load_model

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from trainforge.data.spec import InputSpec


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UsageError(f"--batch_size must be at least 1, got {batch_size}")


@torch.inference_mode()
def forward_batches(model: nn.Module, raw: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``model(raw)`` in batches of ``batch_size`` rows, as float32 on the CPU."""
    check_batch_size(batch_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    parts = [model(part.to(device)).float().cpu() for part in raw.split(batch_size)]
    if not parts:
        raise UsageError("the data has no rows or images to run the model on")
    return torch.cat(parts)


def sample_ids(path: str, spec: InputSpec, count: int) -> list[str] | list[int]:
    """Image files by their path relative to the folder; rows of a table by their index."""
    root = Path(path)
    if not path.startswith("builtin:") and root.is_dir():
        # Here, not at the top: trainforge.data imports scikit-learn and pandas (~1.5 s), and
        # the registry imports this module (through evaluate) for every checkpoint command.
        from trainforge.data.images import list_any_folder

        # The same listing (and order) load_raw_inputs reads the images in.
        listing = list_any_folder(root, path, spec.class_names)
        return [Path(p).relative_to(root).as_posix() for p in listing.paths]
    return list(range(count))


def predictions_table(
    outputs: torch.Tensor, spec: InputSpec, ids: list[str] | list[int]
) -> pd.DataFrame:
    """id, then class index, class name and one ``prob_<class>`` column per class
    (classification) or ``prediction`` (regression)."""
    import pandas as pd

    table: dict[str, Any] = {"id": ids}
    if spec.task == "regression":
        table["prediction"] = outputs.reshape(-1).double().numpy()
        return pd.DataFrame(table)
    probs = torch.softmax(outputs.double(), dim=1)
    names = spec.class_names or [str(i) for i in range(probs.shape[1])]
    index = probs.argmax(dim=1)
    table["class_index"] = index.numpy()
    table["class_name"] = [names[i] for i in index.tolist()]
    for k, name in enumerate(names):
        table[f"prob_{name}"] = probs[:, k].numpy()
    return pd.DataFrame(table)


def predict_file(
    checkpoint: str | Path,
    input_path: str | Path,
    output: str | Path,
    batch_size: int = 256,
    *,
    model: nn.Module | None = None,
) -> dict[str, Any]:
    """Write predictions for every row or image of ``input_path`` to the CSV ``output``.

    The inputs go through the checkpoint's training preprocessing (``load_model``); returns
    ``{"rows", "output", "columns", "task"}``.
    """
    from trainforge.data import load_raw_inputs  # lazy: see sample_ids

    check_batch_size(batch_size)
    loaded = load_model(checkpoint, model=model)
    source = str(input_path)
    raw, _ = load_raw_inputs(source, loaded.spec)
    outputs = forward_batches(loaded, raw, batch_size)
    frame = predictions_table(outputs, loaded.spec, sample_ids(source, loaded.spec, len(raw)))
    target = Path(output)
    if target.is_dir():
        raise UsageError(f"--output {target} is a folder; give a file name such as preds.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda temp: frame.to_csv(temp, index=False, float_format="%.8g"))
    return {
        "rows": len(frame),
        "output": str(target),
        "columns": [str(c) for c in frame.columns],
        "task": loaded.spec.task,
    }
