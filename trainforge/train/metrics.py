"""Validation metrics from accumulated predictions: pure functions of tensors.

Macro averages follow scikit-learn's convention: classes that appear neither in the targets nor
in the predictions are left out, and 0/0 counts as 0.
"""

from __future__ import annotations

import torch


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted classes."""
    index = targets.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def per_class(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    cm = confusion.double()
    tp = cm.diag()
    predicted = cm.sum(0)
    actual = cm.sum(1)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(
        denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp)
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": actual,
        "seen": (predicted + actual) > 0,
    }


def binary_auroc(scores: torch.Tensor, targets: torch.Tensor) -> float | None:
    """Area under the ROC curve via the rank-sum statistic (ties get average ranks)."""
    targets = targets.long()
    n_pos = int(targets.sum())
    n_neg = len(targets) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = torch.argsort(scores.double())
    sorted_scores = scores.double()[order]
    ranks = torch.empty(len(scores), dtype=torch.float64)
    # Average ranks over runs of equal scores.
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True
    )
    ends = torch.cumsum(counts, 0).double()
    starts = ends - counts.double() + 1
    ranks[order] = ((starts + ends) / 2)[inverse]
    rank_sum = float(ranks[targets == 1].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def classification_metrics(
    logits: torch.Tensor, targets: torch.Tensor, num_classes: int
) -> tuple[dict[str, float], torch.Tensor]:
    """Accuracy, top-5 (more than 5 classes), macro F1/precision/recall, AUROC (2 classes)."""
    preds = logits.argmax(dim=1)
    cm = confusion_matrix(preds, targets, num_classes)
    stats = per_class(cm)
    seen = stats["seen"]
    n = max(1, len(targets))
    out = {
        "accuracy": float((preds == targets).sum()) / n,
        "f1": float(stats["f1"][seen].mean()) if bool(seen.any()) else 0.0,
        "precision": float(stats["precision"][seen].mean()) if bool(seen.any()) else 0.0,
        "recall": float(stats["recall"][seen].mean()) if bool(seen.any()) else 0.0,
    }
    if num_classes > 5:
        top5 = logits.topk(5, dim=1).indices
        out["top5_accuracy"] = float((top5 == targets[:, None]).any(dim=1).sum()) / n
    if num_classes == 2:
        auroc = binary_auroc(torch.softmax(logits.float(), dim=1)[:, 1], targets)
        if auroc is not None:
            out["auroc"] = auroc
    return out, cm


def regression_metrics(preds: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    preds = preds.reshape(-1).double()
    targets = targets.reshape(-1).double()
    err = preds - targets
    mse = float((err**2).mean())
    var = float(((targets - targets.mean()) ** 2).mean())
    return {
        "mse": mse,
        "mae": float(err.abs().mean()),
        "rmse": mse**0.5,
        "r2": 1.0 - mse / var if var > 0 else 0.0,
    }
