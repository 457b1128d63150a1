"""The heartbeat's decisions as plain functions, and one real store with two watches in
threads: a peer that stops beating is declared vanished, one that leaves normally is not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

from ddp_helpers import free_port

from trainforge.config import load_config
from trainforge.train import peers
from trainforge.train.resume import check_resume_changes, config_changes


def test_beat_interval_is_a_tenth_of_the_timeout_within_bounds() -> None:
    assert peers.beat_interval(10) == 1.0
    assert peers.beat_interval(0.5) == 0.2
    assert peers.beat_interval(300) == 2.0


def test_stale_peers_are_those_silent_longer_than_the_threshold() -> None:
    seen = {1: 100.0, 2: 96.0, 3: 90.0}
    assert peers.stale(seen, now=101.0, threshold=5.0) == [3]
    assert peers.stale(seen, now=102.0, threshold=5.0) == [2, 3]
    assert peers.stale(seen, now=100.5, threshold=20.0) == []


def test_the_lowest_surviving_rank_reports() -> None:
    assert peers.reporter(4, [2]) == 0
    assert peers.reporter(4, [0]) == 1
    assert peers.reporter(4, [0, 1]) == 2


def test_a_process_that_exited_is_gone_and_a_zombie_too() -> None:
    assert not peers.process_gone(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while not peers.process_gone(child.pid):  # a zombie until reaped
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.wait()
    assert peers.process_gone(child.pid)


def test_collective_errors_are_told_from_others() -> None:
    import torch.distributed as dist

    gloo = RuntimeError("[../gloo/transport/tcp/pair.cc:561] Connection closed by peer")
    assert peers.is_collective_error(gloo)
    assert peers.is_collective_error(dist.DistNetworkError("store gone"))
    assert not peers.is_collective_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not peers.is_collective_error(KeyboardInterrupt())


def test_the_timeouts_have_useful_defaults_and_a_resume_may_change_them() -> None:
    cfg = load_config({"data": {"train_path": "builtin:digits"}})
    assert cfg.training.distributed_timeout_s == 300
    assert cfg.training.heartbeat_timeout_s == 30
    old = cfg.model_dump(mode="json")
    new = load_config(
        old, ["training.heartbeat_timeout_s=5", "training.distributed_timeout_s=60"]
    ).model_dump(mode="json")
    check_resume_changes(config_changes(old, new))  # no error: they change no maths


def test_a_peer_that_stops_beating_is_declared_vanished_one_that_leaves_is_not() -> None:
    """Three watches on one real TCPStore (threads stand in for ranks): rank 2 leaves
    normally, rank 1 goes silent; rank 0 names rank 1 only."""
    from torch.distributed import TCPStore

    port = free_port()
    server = TCPStore("127.0.0.1", port, is_master=True, timeout=timedelta(seconds=10))
    watches = [peers.PeerWatch(r, 3, "127.0.0.1", port, timeout_s=5.0) for r in range(3)]
    for w in watches:
        w._judge = lambda: None  # type: ignore[method-assign]  # decide by hand, never exit
        w.start()
    try:
        time.sleep(1.0)
        assert watches[0].decide(time.monotonic()) is None
        watches[2].stop()  # leaves normally: beats DONE
        watches[1]._stop.set()  # goes silent (its beating thread ends, no DONE)
        deadline = time.monotonic() + 20
        verdict = None
        while verdict is None:
            assert time.monotonic() < deadline, "rank 1 was never declared vanished"
            time.sleep(0.2)
            verdict = watches[0].decide(time.monotonic())
        assert verdict.lost == [1], verdict
        assert "rank 1" in verdict.message and "heartbeat" in verdict.message
    finally:
        for w in watches:
            w._stop.set()
        for w in watches:
            for thread in w._threads:
                thread.join(5)
        del server


def test_an_announced_verdict_is_taken_as_is() -> None:
    watch = peers.PeerWatch(1, 3, "127.0.0.1", 1, timeout_s=5.0)
    watch._abort = {"lost": [2], "message": "rank 2 (h) stopped responding"}
    verdict = watch.decide(time.monotonic())
    assert verdict is not None and verdict.announced
    assert verdict.lost == [2] and peers.reporter(3, verdict.lost) == 0


def test_the_step_mark_copies_the_saved_buffers_only() -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    model.register_buffer("mask", torch.ones(3, 3), persistent=False)
    copies = peers.BufferCopies()
    saved = copies.refresh(model)
    assert sorted(saved) == sorted(k for k in model.state_dict() if "running" in k or "num_" in k)
    model[1].running_mean.fill_(3.0)
    assert not torch.equal(saved["1.running_mean"], model[1].running_mean)  # a copy
    copies.refresh(model)
    assert torch.equal(saved["1.running_mean"], model[1].running_mean)
