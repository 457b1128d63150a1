"""The trainer's stateful parts: each saves and restores itself; the stop reasons; the
per-run progress-bar decision."""

from __future__ import annotations

import random

import pytest
import torch

from trainforge.checkpoint import load_checkpoint, save_checkpoint
from trainforge.train import StopReason
from trainforge.train.checkpointing import load_parts, parts_state
from trainforge.train.counters import EpochTotals, LatestMetrics
from trainforge.train.distributed import STOP_REASONS
from trainforge.train.position import LoopPosition
from trainforge.train.progress import bar_enabled
from trainforge.train.seeding import RNGState
from trainforge.train.trackers import BestTracker, EarlyStopping, TopK, Trackers


def _trackers() -> Trackers:
    return Trackers(
        EarlyStopping("val_loss", "min", 2, 0.0),
        BestTracker({"val_loss": "min", "val_accuracy": "max"}),
        TopK(2, "min"),
    )


def test_parts_round_trip_through_a_checkpoint_file(tmp_path) -> None:
    pos = LoopPosition(
        epoch=2,
        batch_in_epoch=7,
        global_step=33,
        totals=EpochTotals(loss_sum=3.5, correct=12.0, samples=40, seconds=1.25),
        consecutive_skips=1,
        stop_reason=StopReason.SIGTERM,
        world_size=2,
    )
    trackers = _trackers()
    trackers.early_stopping.update({"val_loss": 0.5})
    trackers.best.improved({"val_loss": 0.5, "val_accuracy": 0.8}, step=30)
    trackers.top_k.offer("epoch_002.pth", 0.5)
    metrics = LatestMetrics(val_loss=0.5, train_loss=0.7)
    parts = {"trainer": pos, "trackers": trackers, "metrics": metrics}
    path = save_checkpoint(parts_state(parts), tmp_path / "parts.pth")  # weights-only safe
    state = load_checkpoint(path)
    assert state["trainer"]["stop_reason"] == "signal:SIGTERM"
    assert state["trainer"]["world_size"] == 2 and state["trainer"]["micro_step"] == 0

    fresh = {"trainer": LoopPosition(), "trackers": _trackers(), "metrics": LatestMetrics()}
    load_parts(fresh, state)
    restored = fresh["trainer"]
    assert isinstance(restored, LoopPosition)
    assert (restored.epoch, restored.batch_in_epoch, restored.global_step) == (2, 7, 33)
    assert restored.totals == pos.totals and restored.consecutive_skips == 1
    # a loaded position has not stopped: the loop that loads it goes on
    assert restored.stop_reason is None and restored.world_size == 1
    assert fresh["trackers"].state_dict() == trackers.state_dict()
    assert fresh["metrics"] == {"val_loss": 0.5, "train_loss": 0.7}


def test_rng_part_restores_every_generator() -> None:
    part = RNGState()
    saved = part.state_dict()
    first = (random.random(), torch.rand(3))
    random.random(), torch.rand(5)  # move on
    part.load_state_dict(saved)
    again = (random.random(), torch.rand(3))
    assert first[0] == again[0] and torch.equal(first[1], again[1])


def test_position_epoch_label_and_next_epoch() -> None:
    pos = LoopPosition(epoch=1, batch_in_epoch=0, global_step=10)
    assert pos.epoch_label == 1  # epoch 1 just ended
    pos.batch_in_epoch = 3
    pos.totals.samples = 96
    assert pos.epoch_label == 2  # epoch 2 in progress
    pos.next_epoch()
    assert (pos.epoch, pos.batch_in_epoch, pos.totals) == (2, 0, EpochTotals())


def test_stop_reasons_record_their_values_and_order_for_agreement() -> None:
    assert StopReason.for_signal("SIGINT") is StopReason.SIGINT
    assert StopReason.SIGTERM.value == "signal:SIGTERM"
    assert StopReason.SIGTERM.signal_name == "SIGTERM"
    assert StopReason.HOOK.signal_name is None and StopReason.MAX_STEPS.signal_name is None
    # ranks agree on the strongest: any signal beats every other reason
    signals = [r for r in STOP_REASONS if r.signal_name]
    others = [r for r in STOP_REASONS if not r.signal_name]
    assert max(STOP_REASONS.index(r) for r in others) < min(STOP_REASONS.index(r) for r in signals)
    with pytest.raises(ValueError):
        StopReason.for_signal("SIGHUP")


@pytest.mark.parametrize(
    ("setting", "is_main", "expected"),
    [
        ("on", True, True),
        (True, True, True),
        ("off", True, False),
        (False, True, False),
        ("on", False, False),
    ],
)
def test_progress_bar_is_decided_per_run(
    setting: bool | str, is_main: bool, expected: bool
) -> None:
    assert bar_enabled(setting, is_main=is_main) is expected


def test_progress_bar_auto_follows_the_terminal() -> None:
    import sys

    assert bar_enabled("auto") is sys.stderr.isatty()
