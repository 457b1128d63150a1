"""Resumable, epoch-addressable batch iterators.

The order of an epoch is a pure function of (seed, epoch) and each sample's augmentation
of (seed, epoch, index), so ``epoch(e, start_batch=k)`` yields exactly the batches that
``epoch(e)`` yields from the k-th on, without reading the skipped samples.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from trainforge.data.augment import Augmentation
from trainforge.data.seeding import (
    batch_bounds,
    batch_count,
    derive_seed,
    epoch_order,
    shard,
    shard_size,
)
from trainforge.data.workers import LoaderOptions, WorkerInit, worker_start_method
from trainforge.errors import DataError

Batch = tuple[torch.Tensor, torch.Tensor]


@runtime_checkable
class Batches(Protocol):
    """Batches of (inputs, targets) per epoch; ``len()`` is the number of batches per epoch."""

    num_samples: int

    def __len__(self) -> int: ...

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Batch]: ...


class TensorBatches:
    """In-memory data: each batch is a slice of preprocessed tensors (no per-sample work).

    With ``world_size > 1`` it yields rank ``rank``'s shard of each epoch's order (see
    ``seeding.shard``); ``num_samples`` and ``len()`` are then this rank's counts.
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = False,
        drop_last: bool = False,
        augmentation: Augmentation | None = None,
        pin_memory: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if pin_memory:  # once, so that batches copy to the GPU asynchronously
            inputs, targets = inputs.pin_memory(), targets.pin_memory()
        self.inputs = inputs
        self.targets = targets
        self.total_samples = int(inputs.shape[0])
        self.num_samples = shard_size(self.total_samples, world_size)
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.augmentation = augmentation if augmentation and augmentation.active else None
        self.pinned = pin_memory

    def __len__(self) -> int:
        return batch_count(self.num_samples, self.batch_size, self.drop_last)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Batch]:
        batches = batch_bounds(self.num_samples, self.batch_size, self.drop_last, start_batch)
        order = epoch_order(self.total_samples, self.seed, epoch, self.shuffle)
        return self._iterate(epoch, batches, shard(order, self.rank, self.world_size))

    def _iterate(self, epoch: int, batches: range, order: torch.Tensor) -> Iterator[Batch]:
        bs = self.batch_size
        for b in batches:
            if self.shuffle or self.world_size > 1:
                index = order[b * bs : (b + 1) * bs]
                x, y = self._gather(self.inputs, index), self._gather(self.targets, index)
            else:  # contiguous: views, which keep the pinned memory
                index = torch.arange(b * bs, min((b + 1) * bs, self.num_samples))
                x, y = self.inputs[b * bs : (b + 1) * bs], self.targets[b * bs : (b + 1) * bs]
            if self.augmentation is not None:
                x = self.augmentation.apply_batch(x, epoch, index)
            yield x, y

    def _gather(self, source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if not self.pinned:
            return source[index]
        # gather straight into pinned memory (torch caches pinned blocks, so this is cheap)
        out = torch.empty((len(index), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
        return torch.index_select(source, 0, index, out=out)


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of (epoch, index) keys for the epoch and start batch last set.

    The keys carry the epoch so a dataset can derive each sample's augmentation seed,
    even inside a worker process that only sees the keys.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        shuffle: bool,
        drop_last: bool,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.total = n
        self.n = shard_size(n, world_size)  # this rank's samples per epoch
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._epoch = 0
        self._batches = batch_bounds(self.n, batch_size, drop_last, 0)

    def set_position(self, epoch: int, start_batch: int) -> None:
        self._batches = batch_bounds(self.n, self.batch_size, self.drop_last, start_batch)
        self._epoch = epoch

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        # the position is read now, not lazily: DataLoader asks for the iterator when an
        # epoch starts, and a later set_position must not change an epoch already running
        epoch, batches = self._epoch, self._batches
        order = shard(
            epoch_order(self.total, self.seed, epoch, self.shuffle), self.rank, self.world_size
        )
        bs = self.batch_size
        return ([(epoch, i) for i in order[b * bs : (b + 1) * bs].tolist()] for b in batches)


class LoaderBatches:
    """Data read sample by sample (image files, user datasets) through a torch DataLoader.

    Sharded across ranks like :class:`TensorBatches` when ``world_size > 1``.
    """

    def __init__(
        self,
        items: Dataset[Any],
        num_samples: int,
        *,
        batch_size: int,
        options: LoaderOptions,
        seed: int = 0,
        shuffle: bool = False,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.total_samples = num_samples
        self.num_samples = shard_size(num_samples, world_size)
        self.seed = seed
        self._sampler = EpochBatchSampler(
            num_samples, batch_size, seed, shuffle, drop_last, rank, world_size
        )
        # DataLoader draws its worker base seed from this generator, or from the global RNG
        # when it has none: a local one keeps the global stream untouched
        self._generator = torch.Generator()
        workers = options.num_workers
        self._loader = DataLoader(
            items,
            batch_sampler=self._sampler,
            num_workers=workers,
            pin_memory=options.pin_memory,
            persistent_workers=options.persistent_workers and workers > 0,
            worker_init_fn=WorkerInit() if workers else None,
            multiprocessing_context=worker_start_method() if workers else None,
            generator=self._generator,
        )

    def __len__(self) -> int:
        return batch_count(self.num_samples, self._sampler.batch_size, self._sampler.drop_last)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Batch]:
        """Batches of ``epoch``; one epoch at a time per instance (the loader is shared)."""
        self._sampler.set_position(epoch, start_batch)
        # rank in the seed: workers of different ranks must not draw identical random streams
        parts: tuple[int | str, ...] = (self.seed, "workers", epoch)
        if self._sampler.world_size > 1:
            parts += ("rank", self._sampler.rank)
        self._generator.manual_seed(derive_seed(*parts))
        return _one_line_errors(iter(self._loader))


def _one_line_errors(batches: Iterator[Any]) -> Iterator[Batch]:
    """The loader's batches; a DataError raised in a worker arrives wrapped in a traceback
    text, which is cut back to the original one-line message."""
    message = None
    try:
        yield from ((x, y) for x, y in batches)  # the loader collates pairs into lists
    except DataError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        message = lines[-1].split("DataError: ", 1)[-1] if lines else "data loading failed"
        # DataLoader's re-raise leaves a frame <-> exception cycle that holds the loader
        # iterator; left to the garbage collector, its worker shutdown stalls for seconds
        traceback.clear_frames(exc.__traceback__)
    del batches  # the iterator shuts its workers down now
    if message is not None:
        raise DataError(message)
