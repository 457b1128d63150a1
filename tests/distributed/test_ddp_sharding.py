"""Each epoch's order dealt out to ranks: equal shares, every sample seen, still (seed, epoch)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from trainforge.cli.launch import worker_argv
from trainforge.data.batches import LoaderBatches, TensorBatches
from trainforge.data.seeding import epoch_order, shard
from trainforge.data.workers import LoaderOptions


def test_shard_without_padding_sees_every_sample_once() -> None:
    order = epoch_order(12, seed=5, epoch=1, shuffle=True)
    parts = [shard(order, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 4]
    assert sorted(torch.cat(parts).tolist()) == list(range(12))


def test_shard_pads_by_wrapping_so_ranks_get_equal_shares() -> None:
    order = torch.arange(10)
    parts = [shard(order, r, 4) for r in range(4)]
    assert [len(p) for p in parts] == [3, 3, 3, 3]
    seen = torch.cat(parts).tolist()
    assert set(seen) == set(range(10)) and len(seen) == 12  # two samples twice


@pytest.mark.parametrize("shuffle", [True, False])
def test_tensor_batches_shards_cover_the_epoch(shuffle: bool) -> None:
    x = torch.arange(40, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(40)
    ranks = [
        TensorBatches(x, y, batch_size=4, seed=7, shuffle=shuffle, rank=r, world_size=2)
        for r in range(2)
    ]
    assert [len(b) for b in ranks] == [5, 5] and ranks[0].num_samples == 20
    for epoch in (0, 1):
        seen = [t for b in ranks for _, ys in b.epoch(epoch) for t in ys.tolist()]
        assert sorted(seen) == list(range(40))
    # still a pure function of (seed, epoch), and start_batch skips exactly
    again = [ys.tolist() for _, ys in ranks[1].epoch(1)]
    assert [ys.tolist() for _, ys in ranks[1].epoch(1, start_batch=2)] == again[2:]


class Keyed(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Items addressed by the sampler's (epoch, index) keys."""

    def __len__(self) -> int:
        return 22

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        _, i = key
        return torch.tensor([float(i)]), torch.tensor(i)


def test_loader_batches_shard_like_tensor_batches() -> None:
    data = Keyed()
    options = LoaderOptions(num_workers=0, pin_memory=False, persistent_workers=False)
    ranks = [
        LoaderBatches(
            data, 22, batch_size=4, options=options, seed=3, shuffle=True, rank=r, world_size=2
        )
        for r in range(2)
    ]
    assert [len(b) for b in ranks] == [3, 3]
    seen = [t for b in ranks for _, ys in b.epoch(0) for t in torch.as_tensor(ys).tolist()]
    assert sorted(seen) == list(range(22))


def test_worker_argv_drops_only_launcher_flags() -> None:
    argv = ["prog", "train", "--config", "c.yaml", "--distributed", "--n_gpus", "2"]
    argv += ["--master-port=1234", "--nnodes", "1", "--output", "r"]
    assert worker_argv(argv) == ["prog", "train", "--config", "c.yaml", "--output", "r"]
