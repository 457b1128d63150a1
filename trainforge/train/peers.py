"""Noticing a vanished peer of a data-parallel run in seconds, and stopping cleanly.

A rank that dies with its machine (or hangs: a stopped process, a frozen node) leaves the
others blocked in the next collective until torch's timeout (``training.distributed_timeout_s``;
torch's own default is 30 minutes). Each rank therefore beats a counter in the run's rendezvous
store (the c10d TCPStore every launcher already runs) from a thread of its own, about once a
second, and watches its peers' counters. A peer whose counter stops for
``training.heartbeat_timeout_s`` has vanished; a peer on this machine whose process is gone has
vanished at once. Then every surviving rank stops with exit code 5, the lowest of them prints one
line naming the rank, its host and the fix, and rank 0 first writes ``last.pth`` from the last
consistent point of the run (see :class:`StepMark`).

Why from the watching thread: gloo cannot abort a collective in flight (``abort()`` returns but
the wait goes on), so the training thread may never come back. The state rank 0 saves is the one
marked between optimizer steps (right after a step, and before the next one's first batch): the
weights, the optimizer and every tracker change only after the next step's gradient all-reduce,
which a vanished peer never joins, so they still hold that state; the loop position, torch's
RNG states and the model's buffers (BatchNorm statistics move in the forward) are the marked
ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from trainforge._clock import iso_time
from trainforge.train.checkpoint_files import write_checkpoint
from trainforge.train.result import EXIT_PEER_LOST

if TYPE_CHECKING:
    from trainforge.train.ports import RunFolderLike
    from trainforge.train.trainer import Trainer

# A rank that leaves normally adds this to its counter, so its silence is not a vanishing.
DONE = 1 << 40
# After a collective failed (a peer's connection closed), a peer silent for this many beats
# has vanished: a live one beats on regardless of the failed collective.
SUSPECT_BEATS = 3
FIX = "once every node is up, run the same command with --resume auto to continue"


def beat_interval(timeout_s: float) -> float:
    """Seconds between heartbeats: ten per timeout, between 0.2 s and 2 s."""
    return max(0.2, min(2.0, timeout_s / 10))


@dataclass
class StepMark:
    """The run's state between two optimizer steps, less what stays unchanged until the next
    step's gradients are all-reduced (weights, optimizer, trackers): the loop position and
    torch's RNG states. ``key`` tells whether the run is still at that point (see
    :func:`run_key`)."""

    key: tuple[int, int, int]
    position: dict[str, Any]
    rng: dict[str, Any]
    buffers: dict[str, Any]  # BatchNorm statistics move in the forward, before the all-reduce


def torch_rng_state() -> dict[str, Any]:
    """torch's generators (dropout draws from them inside a step). Python's and numpy's global
    generators are left out: nothing inside a step draws from them (the data order and the
    augmentation have generators of their own), so their state when a peer vanishes is their
    state at the mark, and copying numpy's costs ~100 x more than torch's."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_initialized():  # (is_available() alone costs more than the copy)
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def saved_buffers(model: Any) -> dict[str, Any]:
    """The buffers a checkpoint holds, by state-dict key (BatchNorm statistics and the like;
    not the non-persistent ones, such as attention masks, which the forward never changes)."""
    out: dict[str, Any] = {}
    for prefix, module in model.named_modules():
        skip = module._non_persistent_buffers_set
        for name, buf in module._buffers.items():
            if buf is not None and name not in skip:
                out[f"{prefix}.{name}" if prefix else name] = buf
    return out


class BufferCopies:
    """Copies of a model's saved buffers, refreshed in one fused copy per mark (the model's
    buffers are looked up again only when the model object changes)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._sources: list[Any] = []
        self.copies: dict[str, Any] = {}

    def refresh(self, model: Any) -> dict[str, Any]:
        import torch

        if model is not self._model:
            found = saved_buffers(model)
            self._model, self._sources = model, list(found.values())
            self.copies = {k: v.detach().clone() for k, v in found.items()}
        elif self._sources:
            torch._foreach_copy_(list(self.copies.values()), self._sources)
        return self.copies


def run_key(trainer: Trainer) -> tuple[int, int, int]:
    """Epoch, optimizer step and the step of the last validation: while all three stay, the
    weights, optimizer and trackers are those of the mark (a validation changes the trackers
    without a step)."""
    return (trainer.pos.epoch, trainer.pos.global_step, trainer._validated_at)


@dataclass
class Verdict:
    lost: list[int]
    message: str
    announced: bool = False  # another rank decided; it has told the others


def stale(seen: dict[int, float], now: float, threshold: float) -> list[int]:
    """Peers whose counter last moved more than ``threshold`` seconds before ``now``."""
    return sorted(r for r, t in seen.items() if now - t > threshold)


def reporter(world_size: int, lost: list[int]) -> int:
    """The rank that prints the verdict: the lowest one that did not vanish."""
    return min(set(range(world_size)) - set(lost), default=0)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class PeerWatch:
    """Heartbeats through the rendezvous store, and the verdict when a peer vanishes."""

    def __init__(
        self,
        rank: int,
        world_size: int,
        addr: str,
        port: int,
        timeout_s: float,
        *,
        prefix: str = "",
    ) -> None:
        self.rank = rank
        self.world_size = world_size
        self.addr, self.port = addr, port
        self.timeout_s = timeout_s
        self.interval = beat_interval(timeout_s)
        self.prefix = f"trainforge/peers/{prefix}"
        self.host = socket.gethostname()
        self.rescue: Callable[[str], str] | None = None  # rank 0: save, and say what was saved
        self.mark: StepMark | None = None
        self._buffers = BufferCopies()
        self.verdict = threading.Event()
        self._peers = [r for r in range(world_size) if r != rank]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counts: dict[int, int] = {}
        self._seen: dict[int, float] = {}
        self._who: dict[int, tuple[str, int]] = {}
        self._last_ok = time.monotonic()
        self._store_error: str | None = None
        self._abort: dict[str, Any] | None = None
        self._suspect = False
        self._decided = False
        self._store: Any = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------ life cycle
    def start(self) -> PeerWatch:
        from torch.distributed import TCPStore

        # A client of its own: the training thread's collectives never wait behind a beat.
        self._store = TCPStore(
            self.addr,
            self.port,
            is_master=False,
            timeout=timedelta(seconds=max(10.0, self.timeout_s)),
            wait_for_workers=False,
        )
        self._store.set(self._key("who", self.rank), f"{self.host}:{os.getpid()}")
        now = time.monotonic()
        self._seen = dict.fromkeys(self._peers, now)
        self._last_ok = now
        for target, name in ((self._beat, "peer-heartbeat"), (self._judge, "peer-judge")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Leave quietly: the peers take this rank's silence from now on as a normal exit."""
        if self._stop.is_set():
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.interval + 1)
        if self._store_error is None and not self._decided:
            _bounded(lambda: self._store.add(self._key("beat", self.rank), DONE), 2.0)

    # ------------------------------------------------------------------------ the training side
    def mark_step(self, trainer: Trainer) -> None:
        """Remember a point between optimizer steps (before a step's first batch, and at once
        after a step): a few microseconds (see :func:`torch_rng_state`)."""
        from trainforge.train.distributed import unwrap

        buffers = self._buffers.refresh(unwrap(trainer.model))
        self.mark = StepMark(run_key(trainer), trainer.pos.state_dict(), torch_rng_state(), buffers)

    def hold(self, exc: BaseException) -> None:
        """Called by the training thread with the error that ended its loop: when that is a
        collective failing because a peer vanished, wait here while the watching thread saves
        and ends the process; otherwise return (after a few beats) and let the error go on."""
        if not is_collective_error(exc) or self._stop.is_set():
            return
        self._suspect = True
        if not self.verdict.wait(self.interval * (SUSPECT_BEATS + 2) + 1.0):
            return
        while True:  # the watching thread ends the process with os._exit
            try:
                time.sleep(3600)
            except BaseException:  # a signal must not cut the save short
                continue

    # ------------------------------------------------------------------------ the threads
    def _key(self, kind: str, rank: int | str) -> str:
        return f"{self.prefix}{kind}/{rank}"

    def _beat(self) -> None:
        store = self._store
        while not self._stop.is_set():
            try:
                store.add(self._key("beat", self.rank), 1)
                counts = {r: int(store.add(self._key("beat", r), 0)) for r in self._peers}
                for r in self._peers:
                    if r not in self._who and store.check([self._key("who", r)]):
                        host, _, pid = store.get(self._key("who", r)).decode().rpartition(":")
                        self._who[r] = (host, int(pid))
                abort = None
                if store.check([self._key("abort", "run")]):
                    abort = json.loads(store.get(self._key("abort", "run")).decode())
            except Exception as exc:  # the store's host is gone: the judge says so
                text = str(exc).strip().splitlines()
                self._store_error = text[0][:200] if text else type(exc).__name__
                return
            now = time.monotonic()
            with self._lock:
                self._last_ok = now
                for r, count in counts.items():
                    if count != self._counts.get(r):
                        self._counts[r], self._seen[r] = count, now
                self._abort = abort or self._abort
            self._stop.wait(self.interval)

    def _judge(self) -> None:
        while not self._stop.wait(self.interval / 2):
            verdict = self.decide(time.monotonic())
            if verdict is not None:
                self._conclude(verdict)
                return

    def decide(self, now: float) -> Verdict | None:
        """Whether a peer has vanished, from what the beating thread saw until ``now``."""
        with self._lock:
            abort, seen = self._abort, dict(self._seen)
            counts, last_ok = dict(self._counts), self._last_ok
        if abort is not None:
            return Verdict([int(r) for r in abort["lost"]], str(abort["message"]), announced=True)
        threshold = self.timeout_s
        if self._suspect:
            threshold = min(threshold, SUSPECT_BEATS * self.interval)
        live = {r: t for r, t in seen.items() if counts.get(r, 0) < DONE}
        for r in sorted(live):
            host, pid = self._who.get(r, ("", 0))
            if host == self.host and pid and process_gone(pid):
                return Verdict([r], f"rank {r} (pid {pid} on {host}) died")
        gone = stale(live, now, threshold)
        if gone:
            silent = now - min(live[r] for r in gone)
            names = ", ".join(self._name(r) for r in gone)
            return Verdict(
                gone,
                f"rank {names} stopped responding (no heartbeat for {silent:.0f} s, "
                f"training.heartbeat_timeout_s {self.timeout_s:g}): its node is gone or hung",
            )
        if self._store_error is not None or now - last_ok > threshold:
            why = self._store_error or f"no answer for {now - last_ok:.0f} s"
            return Verdict(
                [0] if self.rank != 0 else [],
                f"lost the rendezvous store at {self.addr}:{self.port} on rank 0's node ({why})",
            )
        return None

    def _name(self, rank: int) -> str:
        host, _ = self._who.get(rank, ("", 0))
        return f"{rank} ({host})" if host else str(rank)

    def _conclude(self, verdict: Verdict) -> None:
        """Tell the others, save what can be saved, print the one line, end the process."""
        self._decided = True
        self.verdict.set()
        if not verdict.announced and self._store_error is None:
            self._announce(verdict)
        saved = ""
        if self.rank == 0 and 0 not in verdict.lost and self.rescue is not None:
            try:
                saved = self.rescue(verdict.message)
            except Exception as exc:  # say why nothing was saved, still stop
                saved = f"rank 0 could not save last.pth ({type(exc).__name__}: {exc})"
        if self.rank == reporter(self.world_size, verdict.lost):
            parts = [verdict.message, saved, FIX]
            print(f"trainforge: error: {'; '.join(p for p in parts if p)}", file=sys.stderr)
        elif not verdict.announced:
            # the reporting rank reads this verdict before our exit closes our connections
            # (which it would take for one more vanished peer)
            time.sleep(2 * self.interval + 0.5)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_PEER_LOST)

    def _announce(self, verdict: Verdict) -> None:
        """The verdict into the store, so every rank stops now with the same message."""
        payload = json.dumps({"lost": verdict.lost, "message": verdict.message})
        _bounded(lambda: self._store.set(self._key("abort", "run"), payload), 2.0)


def _bounded(call: Callable[[], object], seconds: float) -> None:
    """``call()`` in a thread, given up on after ``seconds``: a store whose host is stopped
    never answers, and a failure only means the peers find out by themselves."""

    def run() -> None:
        with contextlib.suppress(Exception):  # best effort, see above
            call()

    thread = threading.Thread(target=run, name="peer-store-call", daemon=True)
    thread.start()
    thread.join(timeout=seconds)


def is_collective_error(exc: BaseException) -> bool:
    """An error from torch.distributed's communication (a peer's connection closed, a timeout)."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    text = str(exc)
    return any(word in text for word in ("gloo", "NCCL", "Connection closed", "c10d"))


def start_watch(rank: int, world_size: int, timeout_s: float | None) -> PeerWatch | None:
    """A running watch for this rank, or None when the heartbeat is off or no store is known."""
    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if timeout_s is None or world_size <= 1 or not addr or not port:
        return None
    # torchrun keeps its store across restarts: each attempt beats under its own keys
    prefix = f"{os.environ.get('TORCHELASTIC_RUN_ID', '')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/"
    return PeerWatch(rank, world_size, addr, int(port), timeout_s, prefix=prefix).start()


def save_from_mark(trainer: Trainer, folder: RunFolderLike, mark: StepMark | None, why: str) -> str:
    """Rank 0, on a vanished peer: ``last.pth`` at the marked point between steps, when the run
    is still there (see :func:`run_key`), and the run folder's metadata says how the run ended.
    Returns what was saved, for the one line."""
    pos = trainer.pos
    here = run_key(trainer)
    if mark is None or here != mark.key or not trainer.cfg.checkpointing.save_last:
        kept = (
            f"; the newest checkpoint is {trainer.saver.last_saved}"
            if trainer.saver.last_saved
            else ""
        )
        _record_end(folder, why, pos.epoch, pos.global_step)
        return f"rank 0 was validating or saving, so nothing new was saved{kept}"
    step = int(mark.position["global_step"])
    trainer.log.log({"type": "event", "event": "peer_lost", "step": step, "error": why})
    state = trainer.state_dict()
    if run_key(trainer) != here:  # the step went on after all (a slow peer, not a lost one)
        return "rank 0 saved nothing (the step completed meanwhile)"
    state["trainer"], state["rng"] = mark.position, {**state["rng"], **mark.rng}
    model = state["model"]
    model.update({k: v.to(model[k].device) for k, v in mark.buffers.items() if k in model})
    path = write_checkpoint(state, trainer.saver.folder / "last.pth")
    _record_end(folder, why, pos.epoch, step)
    folder.release()
    return f"rank 0 saved {path} (step {step})"


def _record_end(folder: RunFolderLike, why: str, epoch: int, step: int) -> None:
    folder.update_metadata(
        status="failed",
        stop_reason="peer_lost",
        exit_code=EXIT_PEER_LOST,
        error=why,
        end_time=iso_time(time.time()),
        epochs_completed=epoch,
        global_step=step,
    )
