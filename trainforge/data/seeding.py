"""Seeds and orders derived from (seed, purpose, numbers): pure functions, no global RNG.

Every random decision of the data layer (the split, each epoch's order, each sample's
augmentation) gets its own seed from a hash of what it is for, so that changing one of them
(more epochs, a resumed run, a different training seed) never shifts another.
"""

from __future__ import annotations

import hashlib

import torch

_SEED_BITS = 63  # torch.Generator.manual_seed accepts any int64; stay positive


def derive_seed(*parts: int | str) -> int:
    """A stable seed for ``parts`` (same on every platform, process and Python version)."""
    text = "/".join(str(p) for p in parts).encode()
    digest = hashlib.sha256(text).digest()
    return int.from_bytes(digest[:8], "little") >> (64 - _SEED_BITS)


def local_generator(*parts: int | str) -> torch.Generator:
    """A CPU generator seeded from ``parts``; using it leaves the global torch RNG alone."""
    return torch.Generator().manual_seed(derive_seed(*parts))


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> torch.Tensor:
    """Sample indices of ``epoch``: a pure function of (seed, epoch), or 0..n-1 unshuffled."""
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=local_generator(seed, "order", epoch))


def shard_size(n: int, world_size: int) -> int:
    """Samples each rank gets per epoch: ``ceil(n / world_size)``, the same on every rank."""
    return -(-n // world_size)


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s share of an epoch's ``order``, every rank getting as many samples.

    Like torch's DistributedSampler: the order is padded by wrapping around to a multiple of
    ``world_size`` (a few samples are seen twice per epoch, none is never seen, whatever
    ``shuffle`` is), then dealt out round-robin. Dropping the remainder instead would, without
    shuffling, leave the same last samples out of every epoch.
    """
    if world_size <= 1:
        return order
    total = shard_size(len(order), world_size) * world_size
    if total > len(order):
        repeats = -(-total // len(order))
        order = order.repeat(repeats)[:total]
    return order[rank::world_size]


def batch_count(n: int, batch_size: int, drop_last: bool) -> int:
    """Batches per epoch for ``n`` samples."""
    return n // batch_size if drop_last else -(-n // batch_size)


def batch_bounds(n: int, batch_size: int, drop_last: bool, start_batch: int) -> range:
    """Batch numbers to produce from ``start_batch`` on; rejects positions past the end."""
    total = batch_count(n, batch_size, drop_last)
    if not 0 <= start_batch <= total:
        raise ValueError(f"start_batch {start_batch} is outside 0..{total}")
    return range(start_batch, total)
