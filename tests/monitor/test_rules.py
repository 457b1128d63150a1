"""Each health rule on synthetic series: it fires on the problem, stays quiet on a healthy run,
and is causal (findings on a prefix of a series never change when the series grows)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainforge.config.monitoring import RulesConfig
from trainforge.health import RunFacts, Series, SeriesBuilder, evaluate, rules

N = 60
STEPS = np.arange(1, N + 1, dtype=float)
EPOCHS = np.ceil(STEPS / 10)


def healthy_loss() -> np.ndarray:
    rng = np.random.default_rng(0)
    return 2.3 * np.exp(-STEPS / 20) + 0.1 + 0.02 * rng.random(N)


def healthy_norm() -> np.ndarray:
    rng = np.random.default_rng(1)
    return 1.0 + 0.3 * rng.random(N)


def test_nonfinite_fires_at_the_first_bad_step() -> None:
    loss = healthy_loss()
    loss[30] = math.nan
    loss[31] = math.nan
    norm = healthy_norm()
    norm[45] = math.inf
    found = rules.nonfinite(STEPS, EPOCHS, loss, norm)
    assert [f.step for f in found] == [31, 46]
    assert found[0].level == "error" and "loss" in found[0].message
    assert "gradient norm" in found[1].message and "learning_rate" in found[0].fix
    assert rules.nonfinite(STEPS, EPOCHS, healthy_loss(), healthy_norm()) == []


def test_exploding_gradients() -> None:
    norm = healthy_norm()
    norm[40] = 50.0
    [found] = rules.exploding_gradients(STEPS, EPOCHS, norm, factor=10, window=20)
    assert found.step == 41 and found.evidence["grad_norm"] == 50.0
    assert 1.0 <= found.evidence["median"] <= 1.3
    assert rules.exploding_gradients(STEPS, EPOCHS, healthy_norm(), factor=10, window=20) == []


def test_loss_spike() -> None:
    loss = healthy_loss()
    loss[50] = 5.0
    [found] = rules.loss_spike(STEPS, EPOCHS, loss, factor=3, window=20)
    assert found.step == 51
    assert rules.loss_spike(STEPS, EPOCHS, healthy_loss(), factor=3, window=20) == []


def test_vanishing_gradients_needs_patience() -> None:
    norm = healthy_norm()
    norm[20:22] = 1e-9  # two records: not yet
    norm[40:] = 1e-9
    [found] = rules.vanishing_gradients(STEPS, EPOCHS, norm, threshold=1e-7, patience=3)
    assert found.step == 43
    assert (
        rules.vanishing_gradients(STEPS, EPOCHS, healthy_norm(), threshold=1e-7, patience=3) == []
    )


def test_overfitting_gap_uses_spec_ten_points() -> None:
    epochs = np.arange(1.0, 7.0)
    train = np.array([0.6, 0.75, 0.85, 0.93, 0.98, 1.0])
    val = np.array([0.58, 0.72, 0.8, 0.82, 0.84, 0.84])
    [found] = rules.overfitting_gap(epochs * 10, epochs, train, val, max_gap=0.10)
    assert found.epoch == 4 and found.evidence["gap"] == pytest.approx(0.11)
    healthy = rules.overfitting_gap(epochs * 10, epochs, train, train - 0.02, max_gap=0.10)
    assert healthy == []


def test_overfitting_val_loss_rising_while_train_falls() -> None:
    epochs = np.arange(1.0, 9.0)
    train = np.array([2.0, 1.5, 1.0, 0.7, 0.5, 0.35, 0.25, 0.2])
    val = np.array([2.1, 1.6, 1.2, 1.1, 1.15, 1.2, 1.3, 1.4])
    [found] = rules.overfitting_divergence(epochs, epochs, train, val, rising=3)
    assert found.epoch == 7
    assert rules.overfitting_divergence(epochs, epochs, train, train + 0.1, rising=3) == []


def test_underfitting_high_and_flat() -> None:
    epochs = np.arange(1.0, 9.0)
    flat = np.array([2.30, 2.28, 2.27, 2.27, 2.26, 2.26, 2.26, 2.26])
    found = rules.underfitting(
        epochs,
        epochs,
        flat,
        flat + 0.01,
        min_epochs=3,
        high_fraction=0.8,
        flat_tolerance=0.02,
        window=3,
    )
    assert [f.epoch for f in found] == [4]
    learning = np.array([2.3, 1.2, 0.7, 0.5, 0.4, 0.35, 0.33, 0.32])
    assert (
        rules.underfitting(
            epochs,
            epochs,
            learning,
            learning,
            min_epochs=3,
            high_fraction=0.8,
            flat_tolerance=0.02,
            window=3,
        )
        == []
    )


def test_plateau() -> None:
    val_steps = np.arange(1.0, 13.0)
    stalled = np.array([1.0, 0.8, 0.6, 0.5] + [0.5] * 8)
    [found] = rules.plateau(
        val_steps, val_steps, stalled, metric="val_loss", mode="min", patience=5, min_delta=1e-3
    )
    assert found.step == 9
    improving = 1.0 / val_steps
    assert (
        rules.plateau(
            val_steps,
            val_steps,
            improving,
            metric="val_loss",
            mode="min",
            patience=5,
            min_delta=1e-3,
        )
        == []
    )
    accuracy = np.array([0.5, 0.6, 0.7, 0.8] + [0.8] * 8)
    [found] = rules.plateau(
        val_steps,
        val_steps,
        accuracy,
        metric="val_accuracy",
        mode="max",
        patience=5,
        min_delta=1e-3,
    )
    assert found.step == 9


def test_learning_rate_zero_and_frozen() -> None:
    lr = np.linspace(1e-3, 1e-5, N)
    assert rules.learning_rate(STEPS, EPOCHS, lr, changes_every_step=True, frozen_records=10) == []
    zero = lr.copy()
    zero[50:] = 0.0
    [found] = rules.learning_rate(STEPS, EPOCHS, zero, changes_every_step=False, frozen_records=10)
    assert found.step == 51 and "zero" in found.message
    frozen = np.full(N, 1e-3)
    found = rules.learning_rate(STEPS, EPOCHS, frozen, changes_every_step=True, frozen_records=10)
    assert [f.step for f in found] == [10]
    # A step schedule keeps the LR constant between decays: not frozen.
    assert (
        rules.learning_rate(STEPS, EPOCHS, frozen, changes_every_step=False, frozen_records=10)
        == []
    )


def test_gpu_utilization_below_seventy_percent() -> None:
    steps = np.arange(1.0, 21.0)
    util = np.array([95.0] * 10 + [40.0] * 10)
    [found] = rules.gpu_utilization(steps, util, min_percent=70, window=5)
    assert found.step == 13 and found.evidence["utilization_percent"] < 70  # (2x95 + 3x40) / 5
    assert rules.gpu_utilization(steps, np.full(20, 90.0), min_percent=70, window=5) == []


def test_data_loading_bottleneck() -> None:
    wait = np.array([0.05] * 30 + [0.8] * 30)
    [found] = rules.data_loading(STEPS, EPOCHS, wait, max_wait_fraction=0.5, window=5)
    assert found.step == 34 and "bottleneck" in found.message
    assert rules.data_loading(STEPS, EPOCHS, np.full(N, 0.1), max_wait_fraction=0.5, window=5) == []


def records_of_a_healthy_run() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    loss, norm = healthy_loss(), healthy_norm()
    lr = np.linspace(1e-3, 1e-5, N)
    for i in range(N):
        out.append(
            {
                "type": "step",
                "step": i + 1,
                "epoch": int(EPOCHS[i]),
                "loss": loss[i],
                "grad_norm": norm[i],
                "lr": lr[i],
                "data_wait": 0.05,
            }
        )
        if (i + 1) % 10 == 0:
            epoch = (i + 1) // 10
            metrics = {
                "train_loss": loss[i],
                "train_accuracy": 0.9 + epoch / 100,
                "val_loss": loss[i] * 1.05,
                "val_accuracy": 0.89 + epoch / 100,
            }
            out.append(
                {
                    "type": "validation",
                    "step": i + 1,
                    "epoch": epoch,
                    "metrics": {k: v for k, v in metrics.items() if k.startswith("val")},
                }
            )
            out.append({"type": "epoch", "step": i + 1, "epoch": epoch, "metrics": metrics})
        if i % 5 == 0:
            out.append(
                {
                    "type": "resources",
                    "step": i + 1,
                    "cpu_percent": 90.0,
                    "gpus": [{"index": 0, "utilization": 92.0, "memory_used_mb": 900.0}],
                }
            )
    return out


def test_a_healthy_run_raises_nothing() -> None:
    series = Series.from_records(records_of_a_healthy_run())
    assert evaluate(series, RulesConfig(), RunFacts("cosine")) == []


def test_findings_are_causal_so_live_and_offline_agree() -> None:
    records = records_of_a_healthy_run()
    for record in records:
        if record["type"] == "step" and record["step"] in (25, 45):
            record["grad_norm"] = 80.0
        if record["type"] == "resources" and int(record["step"]) > 30:  # type: ignore[call-overload]
            record["gpus"] = [{"index": 0, "utilization": 20.0}]
    everything = evaluate(Series.from_records(records), RulesConfig())
    assert {f.rule for f in everything} == {"exploding_gradients", "gpu_utilization"}
    builder = SeriesBuilder()
    live: set[tuple[str, int | None, int | None]] = set()
    for record in records:  # what the live monitor sees, one record at a time
        builder.add(record)
        live |= {f.key() for f in evaluate(builder.build(), RulesConfig())}
    assert live == {f.key() for f in everything}


def test_disabled_rules_stay_quiet() -> None:
    records = records_of_a_healthy_run()
    records[10]["grad_norm"] = 500.0
    cfg = RulesConfig.model_validate({"exploding_gradients": {"enabled": False}})
    assert evaluate(Series.from_records(records), cfg) == []


def test_spikes_of_a_loss_near_zero_are_noise() -> None:
    loss = np.concatenate((np.linspace(2.3, 0.01, 30), 1e-4 * (1 + 3 * (np.arange(30) % 7 == 0))))
    assert rules.loss_spike(STEPS, EPOCHS, loss, factor=3, window=20) == []
    loss[45] = 1.5  # back to most of the starting level: a real spike
    [found] = rules.loss_spike(STEPS, EPOCHS, loss, factor=3, window=20)
    assert found.step == 46


@pytest.mark.parametrize("window", [1, 2, 7, 50])
def test_sliding_min_is_the_window_minimum(window: int) -> None:
    from numpy.lib.stride_tricks import sliding_window_view

    from trainforge.health.windows import sliding_min

    rng = np.random.default_rng(window)
    for size in (window - 1, window, window + 1, 3 * window + 5, 1000):
        values = rng.normal(size=max(size, 0))
        values[rng.random(values.size) < 0.01] = math.nan
        values[rng.random(values.size) < 0.01] = math.inf
        got = sliding_min(values, window)
        if values.size < window:
            assert got.size == 0
            continue
        np.testing.assert_array_equal(got, sliding_window_view(values, window).min(axis=1))
