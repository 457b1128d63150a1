"""Data-parallel training inside one worker process of a ``--distributed`` run.

A worker learns its place from the environment the launcher (or torchrun) sets: ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``. Everything here is a no-op
when ``WORLD_SIZE`` is 1 or unset, so a single-process run takes none of these paths.

Contracts the rest of the trainer relies on:
- every rank runs the same steps, validations and stop checks in the same order, so the few
  collectives (one stop-flag all-reduce per optimizer step, one after each validation, one for
  the epoch totals) always pair up and no rank waits forever;
- only rank 0 writes the run folder; the other ranks log to :class:`SilentLoggers` and use a
  :class:`FollowerFolder` that knows the paths but never touches the disk.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.errors import ConfigError, TrainforgeError
from trainforge.train.result import StopReason

# Stop reasons in the order ranks agree on them, weakest first: the all-reduced maximum wins,
# so a signal seen by any rank stops them all, with the same exit code.
STOP_REASONS = tuple(StopReason)


@dataclass
class DistContext:
    """This process's place in the run; ``world_size == 1`` means an ordinary run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # The heartbeat that notices a vanished peer (``trainforge.train.peers.PeerWatch``)
    watch: Any = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mark_step(self, trainer: Any) -> None:
        """A consistent point of the run (between optimizer steps): what rank 0 saves if a
        peer vanishes before the next one."""
        if self.watch is not None:
            self.watch.mark_step(trainer)

    def hold_if_peer_lost(self, exc: BaseException) -> None:
        """The training loop ended with ``exc``: if a peer vanished, the heartbeat's thread
        saves, reports and ends this process, and this call does not return."""
        if self.watch is not None:
            self.watch.hold(exc)

    # ----------------------------------------------------------------------------- collectives
    def sum_floats(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (identity in a single process)."""
        if not self.enabled:
            return list(values)
        # float64 so epoch sums of thousands of losses stay exact enough to match a single run
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return [float(v) for v in t.tolist()]

    def any_true(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any."""
        return self.sum_floats([float(flag)])[0] > 0 if self.enabled else flag

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object; tensors on the CPU) on every rank."""
        if not self.enabled:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def agree_stop(self, reason: StopReason | None) -> StopReason | None:
        """The strongest stop reason any rank holds (see STOP_REASONS), the same on all ranks."""
        if not self.enabled:
            return reason
        code = STOP_REASONS.index(reason) + 1 if reason is not None else 0
        # nccl has no MAX over int on every version; a float64 tensor is fine for 0..6
        t = torch.tensor([float(code)], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        agreed = int(t.item())
        return STOP_REASONS[agreed - 1] if agreed else None


class PeerFailed(TrainforgeError):
    """Another rank failed during set-up and reports why (the launcher shows rank 0's line)."""


def check_peers(ctx: DistContext, *, failed: bool) -> None:
    """A set-up step only rank 0 performs (the run folder) succeeds or fails on every rank:
    without this, the other ranks would wait in DDP's first collective for a dead peer."""
    if ctx.enabled and ctx.sum_floats([float(failed)])[0] > 0 and not failed:
        raise PeerFailed("another worker failed during set-up (see its message)")


def from_env() -> DistContext:
    """The process's rank and world from the launcher's environment (no communication):
    torchrun's variables, else those of a SLURM ``srun`` step (see :func:`slurm_env`)."""
    for key, value in slurm_env(os.environ).items():
        os.environ.setdefault(key, value)  # init_process_group reads MASTER_* from here
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext()
    return DistContext(
        rank=int(os.environ.get("RANK", "0")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=world,
    )


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a rendezvous on this machine (another process could
    take it before rank 0 binds it; the window is milliseconds and the error says which port)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# MASTER_PORT under SLURM when the job script sets none: one per job, the same on every task.
SLURM_PORT_BASE, SLURM_PORT_SPAN = 20000, 20000


def slurm_env(environ: Mapping[str, str]) -> dict[str, str]:
    """torchrun's variables for a task of a SLURM ``srun`` step, or ``{}``.

    Only inside an ``srun`` step (``SLURM_STEP_ID`` set) with more than one task, and only
    when no launcher set ``WORLD_SIZE``: a batch script running trainforge once (the batch
    step also has ``SLURM_NTASKS``) stays an ordinary run. ``MASTER_ADDR``/``MASTER_PORT``
    from the job's environment win over ``SLURM_LAUNCH_NODE_IPADDR`` and a port derived from
    the job id.
    """
    if "WORLD_SIZE" in environ or "SLURM_STEP_ID" not in environ:
        return {}
    tasks = int(environ.get("SLURM_NTASKS") or environ.get("SLURM_NPROCS") or 1)
    if tasks <= 1 or "SLURM_PROCID" not in environ:
        return {}
    job = int(environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID") or 0)
    return {
        "WORLD_SIZE": str(tasks),
        "RANK": environ["SLURM_PROCID"],
        "LOCAL_RANK": environ.get("SLURM_LOCALID", "0"),
        "GROUP_RANK": environ.get("SLURM_NODEID", "0"),
        "MASTER_ADDR": environ.get(
            "MASTER_ADDR", environ.get("SLURM_LAUNCH_NODE_IPADDR", "127.0.0.1")
        ),
        "MASTER_PORT": environ.get("MASTER_PORT", str(SLURM_PORT_BASE + job % SLURM_PORT_SPAN)),
    }


def init(
    ctx: DistContext,
    device: torch.device,
    timeout_s: float | None = None,
    heartbeat_s: float | None = None,
) -> torch.device:
    """Join the process group: nccl and ``cuda:LOCAL_RANK`` on GPUs, gloo on CPU.

    Returns this rank's device. Joining is itself a rendezvous: no rank goes on until all have
    arrived, so whatever a rank did before (reading a checkpoint) is done everywhere.
    ``timeout_s`` bounds every collective (``training.distributed_timeout_s``); ``heartbeat_s``
    starts the heartbeat that notices a vanished peer (``training.heartbeat_timeout_s``).
    """
    from datetime import timedelta

    timeout = timedelta(seconds=timeout_s) if timeout_s is not None else None
    if device.type == "cuda":
        # SLURM may show each task only its own GPU(s) (--gpus-per-task): count from those
        device = torch.device("cuda", ctx.local_rank % max(1, torch.cuda.device_count()))
        # before init_process_group: nccl binds each communicator to the current device
        torch.cuda.set_device(device)
        ctx.backend = "nccl"
        torch.distributed.init_process_group(
            "nccl", rank=ctx.rank, world_size=ctx.world_size, device_id=device, timeout=timeout
        )
    else:
        device = torch.device("cpu")
        ctx.backend = "gloo"
        torch.distributed.init_process_group(
            "gloo", rank=ctx.rank, world_size=ctx.world_size, timeout=timeout
        )
    ctx.device = device
    from trainforge.train.peers import start_watch

    ctx.watch = start_watch(ctx.rank, ctx.world_size, heartbeat_s)
    return device


def check_sync_batchnorm(ctx: DistContext, wanted: bool, device: torch.device) -> None:
    """torch's SyncBatchNorm runs on GPUs only: refuse it in a CPU (gloo) run, on every rank
    alike, before the process group is joined."""
    if wanted and ctx.enabled and device.type != "cuda":
        raise ConfigError(
            "training.sync_batchnorm: torch's SyncBatchNorm needs GPUs, and this distributed "
            "run is on the CPU (gloo); set training.sync_batchnorm: false"
        )


def teardown(ctx: DistContext) -> None:
    """Leave the process group (also after an error, so the rendezvous port is released)."""
    if ctx.watch is not None:  # before the barrier: a peer leaving first is not vanishing
        ctx.watch.stop()
    if ctx.enabled and torch.distributed.is_initialized():
        # Leave together: a rank that tears gloo down while a peer is still finishing (rank 0
        # writes the last files) can abort that peer ("terminate called ..."). A dead peer
        # makes the barrier fail fast; a stuck one is the launcher's to stop.
        with contextlib.suppress(RuntimeError):
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistContext, *, sync_batchnorm: bool = False) -> nn.Module:
    """DistributedDataParallel around a model already on this rank's device; with
    ``sync_batchnorm``, its BatchNorm layers become SyncBatchNorm first (same state-dict keys,
    so checkpoints stay interchangeable with single-process runs)."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside torch.compile and DDP wrappers: its state-dict keys are the
    same as a single-process run's, so checkpoints are interchangeable."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if inner is None:
            from torch.nn.parallel import DistributedDataParallel

            inner = model.module if isinstance(model, DistributedDataParallel) else None
        if inner is None:
            return model
        model = inner


# --------------------------------------------------------------------------------- rank > 0
class _Silent:
    """Accepts any call and does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class SilentLoggers:
    """The logger interface of ``trainforge.logging.Loggers`` for ranks other than 0."""

    def __init__(self) -> None:
        self.text: Any = _Silent()
        self.metrics: Any = _Silent()
        self.alerts: Any = _Silent()
        self.extra: list[Any] = []
        self.last_step: int | None = None

    def log(self, record: dict[str, Any]) -> None:
        pass

    def alert(self, rule: str, message: str, **fields: Any) -> dict[str, Any]:
        return {}

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def positions(self, step: int | None = None) -> dict[str, Any]:
        return {}

    def rewind(self, positions: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class FollowerFolder:
    """Rank > 0's view of the run folder: the same paths as rank 0's ``RunFolder``, no I/O."""

    def __init__(self, root: Path, checkpoint_dir: str, log_dir: str) -> None:
        self.root = Path(root).expanduser().absolute()
        self.checkpoint_dir = self.root / checkpoint_dir
        self.log_dir = self.root / log_dir
        self.metadata: dict[str, Any] = {}
        self.notices: list[str] = []

    def write_config(self, text: str) -> None:
        pass

    def write_requirements(self) -> None:
        pass

    def update_metadata(self, **fields: Any) -> dict[str, Any]:
        return {}

    def release(self) -> None:
        pass
