"""DataLoader settings: what the config asks for, adjusted to what this machine can do."""

from __future__ import annotations

import random
import signal
import sys
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LoaderOptions:
    num_workers: int
    pin_memory: bool
    persistent_workers: bool


def resolve_loader_options(
    num_workers: int,
    pin_memory: bool,
    persistent_workers: bool,
    *,
    device_type: str,
    cpu_count: int | None,
) -> tuple[LoaderOptions, list[str]]:
    """The settings that can apply here, and a notice for each one changed."""
    notices: list[str] = []
    if cpu_count is not None and num_workers > cpu_count:
        notices.append(
            f"data.num_workers {num_workers} is more than the {cpu_count} CPUs; using {cpu_count}"
        )
        num_workers = cpu_count
    if pin_memory and device_type != "cuda":
        notices.append(
            f"data.pin_memory: there is no CUDA device (training on {device_type}); pinning is off"
        )
        pin_memory = False
    if persistent_workers and num_workers == 0:
        notices.append(
            "data.persistent_workers needs data.num_workers > 0; it is off (no worker processes)"
        )
        persistent_workers = False
    return LoaderOptions(num_workers, pin_memory, persistent_workers), notices


def worker_start_method() -> str:
    """How worker processes start.

    fork on Linux: instant, and the file list and statistics are shared, not pickled; but a
    process that has initialised CUDA cannot be forked safely, so then (and on macOS and
    Windows, where fork is unsafe or absent) spawn.
    """
    if sys.platform.startswith("linux") and not torch.cuda.is_initialized():
        return "fork"
    return "spawn"


class WorkerInit:
    """Runs first in every loader worker (a class, so spawned workers can unpickle it)."""

    def __call__(self, worker_id: int) -> None:
        # Ctrl-C goes to the whole process group: the trainer handles it (saves, stops the
        # loader); workers dying on their own first would turn that into a crash.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # DataLoader seeds torch per worker from its (local, per-epoch) generator; give the
        # other libraries a user's dataset might use the same seed.
        seed = torch.initial_seed() % 2**32
        random.seed(seed)
        np.random.seed(seed)
