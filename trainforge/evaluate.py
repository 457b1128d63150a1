"""Metrics of a checkpoint on a labelled data set: the training config's metrics, per-class
figures and the confusion matrix, computed exactly as validation computes them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from trainforge.errors import DataError, UsageError
from trainforge.inference import load_model
from trainforge.predict import check_batch_size, forward_batches
from trainforge.train.metrics import classification_metrics, per_class, regression_metrics

if TYPE_CHECKING:
    from torch import nn

    from trainforge.config import TrainConfig

DATA_HINT = "a CSV file, an image folder or builtin:NAME"


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path | None = None,
    batch_size: int = 256,
    *,
    model: nn.Module | None = None,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on ``data`` (default: its config's ``data.test_path``).

    Returns ``{"checkpoint", "data", "task", "num_samples", "metrics", "notices"}`` plus, for
    classification, ``class_names``, ``per_class`` (precision, recall, f1, support per class)
    and ``confusion_matrix`` (rows: true class, columns: predicted class). Metric names are
    those of validation without the ``val_`` prefix.
    """
    # Here, not at the top: trainforge.data imports scikit-learn and pandas (~1.5 s), and the
    # registry imports this module for every checkpoint command.
    from trainforge.data import load_raw_inputs

    check_batch_size(batch_size)
    loaded = load_model(checkpoint, model=model)
    spec, config = loaded.spec, loaded.config
    source = str(data) if data is not None else config.data.test_path
    if source is None:
        raise UsageError(
            f"{checkpoint}: its config has no data.test_path; pass --data PATH ({DATA_HINT})"
        )
    raw, targets = load_raw_inputs(source, spec)
    if targets is None:
        raise DataError(
            f"{source} has no labels to evaluate against; give labelled data ({DATA_HINT} with "
            "class subfolders or a target column), or use trainforge predict"
        )
    outputs = forward_batches(loaded, raw, batch_size)
    result: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "data": source,
        "task": spec.task,
        "num_samples": len(targets),
        "notices": [],
    }
    if spec.task == "regression":
        loss = F.mse_loss(outputs.reshape(-1), targets.float())
        result["metrics"] = {"loss": float(loss), **regression_metrics(outputs, targets)}
        return result

    num_classes = int(spec.num_classes or outputs.shape[1])
    weight, notices = _class_weights(config, num_classes, loaded.class_weights)
    loss = F.cross_entropy(
        outputs, targets, weight=weight, label_smoothing=config.training.label_smoothing
    )
    metrics, matrix = classification_metrics(outputs, targets, num_classes)
    names = spec.class_names or [str(i) for i in range(num_classes)]
    stats = per_class(matrix)
    result.update(
        metrics={"loss": float(loss), **metrics},
        class_names=names,
        per_class=[
            {
                "class": names[k],
                "precision": float(stats["precision"][k]),
                "recall": float(stats["recall"][k]),
                "f1": float(stats["f1"][k]),
                "support": int(stats["support"][k]),
            }
            for k in range(num_classes)
        ],
        confusion_matrix=matrix.tolist(),
        notices=notices,
    )
    return result


def _class_weights(
    config: TrainConfig, num_classes: int, stored: list[float] | None
) -> tuple[torch.Tensor | None, list[str]]:
    """The training loss's class weights, so the loss matches validation's."""
    setting = config.training.class_weights
    if setting is None:
        return None, []
    if stored is not None and len(stored) == num_classes:
        return torch.tensor(stored, dtype=torch.float32), []
    if setting == "auto":
        # Checkpoints from before the weights were stored: the class counts are unknown.
        return None, ["training.class_weights: auto: the loss is reported without class weights"]
    if len(setting) != num_classes:
        return None, ["training.class_weights does not match the classes; loss is unweighted"]
    return torch.tensor(setting, dtype=torch.float32), []


def plot_confusion_matrix(
    matrix: list[list[int]], class_names: list[str], path: str | Path, title: str = ""
) -> Path:
    """A PNG of the confusion matrix with counts in the cells (matplotlib, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = torch.tensor(matrix, dtype=torch.float64)
    n = len(class_names)
    side = max(4.0, 0.5 * n + 2.0)
    figure = Figure(figsize=(side, side * 0.9))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(counts.numpy(), cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    long_names = max((len(name) for name in class_names), default=0) > 3
    axes.set_xticks(
        range(n),
        class_names,
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
    )
    axes.set_yticks(range(n), class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title or "confusion matrix")
    threshold = float(counts.max()) / 2 if counts.numel() else 0.0
    if n <= 30:  # beyond that the numbers are unreadable anyway
        for i in range(n):
            for j in range(n):
                value = int(counts[i, j])
                colour = "white" if value > threshold else "black"
                axes.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=120)
    return target
