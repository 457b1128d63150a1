"""The pure decisions of the training loop, tested with plain numbers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from trainforge.config import SchedulerConfig
from trainforge.train.accumulation import window_sample_count
from trainforge.train.metrics import binary_auroc, classification_metrics, regression_metrics
from trainforge.train.nonfinite import step_verdict
from trainforge.train.schedule import LRSchedule, plateau_update, scheduled_lr
from trainforge.train.trackers import EarlyStopping, TopK, early_stopping_update, top_k_split


def lrs(kind: str, **kw: float) -> list[float]:
    args = dict(base_lr=1.0, kind=kind, steps_per_epoch=10, total_steps=100, warmup_steps=0)
    args.update(kw)
    return [scheduled_lr(s, **args) for s in range(100)]  # type: ignore[arg-type]


def test_cosine_ends_at_min_lr_and_warms_up_linearly() -> None:
    values = lrs("cosine", warmup_steps=10, min_lr=0.01)
    assert values[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert values[10] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(0.01, abs=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(values[10:]))


def test_step_decays_every_step_size_epochs() -> None:
    values = lrs("step", step_size=3, gamma=0.5)
    assert values[29] == 1.0 and values[30] == 0.5 and values[60] == 0.25


def test_none_is_constant_and_fractional_warmup() -> None:
    schedule = LRSchedule(SchedulerConfig(type="none", warmup_epochs=0.5), 0.1, 10, 100)
    assert schedule.warmup_steps == 5
    assert schedule.lr_at(0) == pytest.approx(0.02) and schedule.lr_at(50) == pytest.approx(0.1)


def test_plateau_rule_and_state_round_trip() -> None:
    best, wait, reduce = None, 0, False
    history = []
    for value in [1.0, 0.9, 0.95, 0.95, 0.96]:
        best, wait, reduce = plateau_update(value, best, wait, mode="min", patience=2)
        history.append(reduce)
    assert history == [False, False, False, False, True]
    cfg = SchedulerConfig(type="plateau", patience=0, factor=0.5, monitor="val_loss", mode="min")
    s = LRSchedule(cfg, 1.0, 10, 100)
    s.on_validation({"val_loss": 1.0})
    assert s.on_validation({"val_loss": 2.0}) and s.lr_at(5) == pytest.approx(0.5)
    other = LRSchedule(cfg, 1.0, 10, 100)
    other.load_state_dict(s.state_dict())
    assert other.lr_at(5) == s.lr_at(5)


def test_early_stopping_counts_validations_with_min_delta() -> None:
    best, wait, stop = None, 0, False
    stops = []
    for v in [0.5, 0.49, 0.4895, 0.489, 0.6]:
        best, wait, stop = early_stopping_update(
            v, best, wait, mode="min", patience=3, min_delta=0.001
        )
        stops.append(stop)
    assert stops == [False, False, False, False, True]
    es = EarlyStopping("val_accuracy", "max", 1, 0.0)
    assert not es.update({"val_accuracy": 0.5}) and es.update({"val_accuracy": 0.4})
    # A validation without the watched metric decides nothing and changes nothing.
    before = es.state_dict()
    assert es.update({"val_loss": 0.1}) is False
    assert es.state_dict() == before and es.stopped and es.best == 0.5


def test_top_k_keeps_the_best() -> None:
    keep, drop = top_k_split([("a", 0.5), ("b", 0.9), ("c", 0.7)], 2, "max")
    assert [n for n, _ in keep] == ["b", "c"] and [n for n, _ in drop] == ["a"]
    topk = TopK(2, "min")
    assert topk.offer("e1", 0.5) == (True, [])
    assert topk.offer("e2", 0.4) == (True, [])
    assert topk.offer("e3", 0.6) == (False, [])
    assert topk.offer("e4", 0.1) == (True, ["e1"])


def test_classification_metrics_match_hand_computation() -> None:
    targets = torch.tensor([0, 0, 1, 1, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 0])
    logits = torch.nn.functional.one_hot(preds, 3).float()
    metrics, cm = classification_metrics(logits, targets, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    precision = [1 / 2, 2 / 3, 1.0]
    recall = [1 / 2, 1.0, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall, strict=True)]
    assert metrics["precision"] == pytest.approx(sum(precision) / 3)
    assert metrics["recall"] == pytest.approx(sum(recall) / 3)
    assert metrics["f1"] == pytest.approx(sum(f1) / 3)
    assert "top5_accuracy" not in metrics and "auroc" not in metrics


def test_auroc_with_ties_and_top5() -> None:
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4])
    targets = torch.tensor([0, 0, 1, 1, 1])
    # pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8 > both, 0.4>0.1, 0.4=0.4 half -> 4.5/6
    assert binary_auroc(scores, targets) == pytest.approx(4.5 / 6)
    assert binary_auroc(scores, torch.zeros(5)) is None
    logits = torch.randn(50, 10, generator=torch.Generator().manual_seed(0))
    metrics, _ = classification_metrics(logits, torch.randint(0, 10, (50,)), 10)
    assert 0.0 <= metrics["accuracy"] <= metrics["top5_accuracy"] <= 1.0


def test_regression_metrics() -> None:
    m = regression_metrics(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 3.0]))
    assert m["mse"] == pytest.approx(2 / 3) and m["mae"] == pytest.approx(2 / 3)
    assert m["rmse"] == pytest.approx(math.sqrt(2 / 3))


def test_nonfinite_verdicts() -> None:
    assert step_verdict(0.5, 1.0, scaler_active=False) == "ok"
    assert step_verdict(float("nan"), 1.0, scaler_active=False) == "nonfinite"
    assert step_verdict(0.5, float("inf"), scaler_active=False) == "nonfinite"
    # fp16: an overflowing gradient is the scaler's business while the scale is healthy ...
    assert step_verdict(0.5, float("inf"), scaler_active=True, loss_scale=65536.0) == "scaler_skip"
    # ... but a collapsed scale, or a NaN loss, is divergence.
    assert step_verdict(0.5, float("nan"), scaler_active=True, loss_scale=2.0**-10) == "nonfinite"
    assert step_verdict(float("inf"), 1.0, scaler_active=True, loss_scale=65536.0) == "nonfinite"


def test_window_sample_count() -> None:
    # 10 samples, batch 3 -> batches of 3,3,3,1; accumulation 2 -> windows of 6 and 4.
    assert window_sample_count(0, 4, 3, 10, 2, False) == 6
    assert window_sample_count(2, 4, 3, 10, 2, False) == 4
    assert window_sample_count(3, 4, 3, 10, 2, False) == 1
