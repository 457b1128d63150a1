"""Epoch order, resumption, augmentation and the global RNG."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
from data_testing import build, collect, stacked
from torch.utils.data import Dataset

from trainforge.config.schema import DataConfig
from trainforge.data import Batches, build_data
from trainforge.data.augment import Augmentation
from trainforge.data.batches import TensorBatches
from trainforge.data.seeding import epoch_order

AUGMENT = {"random_flip": True, "random_crop": True}


def assert_same(
    a: list[tuple[torch.Tensor, torch.Tensor]], b: list[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_order_is_a_pure_function_of_seed_and_epoch() -> None:
    assert torch.equal(epoch_order(50, 3, 2, True), epoch_order(50, 3, 2, True))
    assert not torch.equal(epoch_order(50, 3, 2, True), epoch_order(50, 3, 1, True))
    assert not torch.equal(epoch_order(50, 3, 2, True), epoch_order(50, 4, 2, True))
    assert torch.equal(epoch_order(50, 3, 2, False), torch.arange(50))


def test_in_memory_resume_equals_tail_with_augmentation() -> None:
    bundle = build("builtin:digits", seed=5, batch_size=100, augmentation=AUGMENT)
    full = collect(bundle.train, epoch=3)
    assert len(full) == len(bundle.train) == 17
    assert_same(collect(bundle.train, 3, start_batch=7), full[7:])
    assert collect(bundle.train, 3, start_batch=17) == []


def test_image_folder_resume_with_workers_and_augmentation(image_folder: Path) -> None:
    bundle = build(image_folder, seed=1, batch_size=4, num_workers=2, augmentation=AUGMENT)
    full = collect(bundle.train, epoch=2)
    assert len(full) == len(bundle.train) == 6
    assert_same(collect(bundle.train, 2, start_batch=4), full[4:])
    # the same data without workers gives the same batches
    single = build(image_folder, seed=1, batch_size=4, num_workers=0, augmentation=AUGMENT)
    assert_same(collect(single.train, 2), full)


def test_skipped_samples_are_never_read() -> None:
    class Recording(Dataset[tuple[torch.Tensor, torch.Tensor]]):
        def __init__(self) -> None:
            self.read: list[int] = []

        def __len__(self) -> int:
            return 20

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            self.read.append(i)
            return torch.tensor([float(i)]), torch.tensor(float(i))

    data = Recording()
    bundle = build_data(
        DataConfig(batch_size=5, task="regression"),
        seed=0,
        device="cpu",
        train_data=data,
        val_data=Recording(),
    )
    first = collect(bundle.train, 0)
    data.read.clear()
    tail = collect(bundle.train, 0, start_batch=3)
    read_back = torch.cat([x for x, _ in first[3:]]).flatten().long().tolist()
    assert sorted(data.read) == sorted(read_back)
    assert_same(tail, first[3:])


def test_augmentation_varies_by_epoch_and_repeats_for_same_seed() -> None:
    a = build("builtin:digits", seed=7, augmentation=AUGMENT, shuffle=False)
    b = build("builtin:digits", seed=7, augmentation=AUGMENT, shuffle=False)
    x0, _ = stacked(a.train, 0)
    x1, _ = stacked(a.train, 1)
    assert not torch.equal(x0, x1)
    assert torch.equal(x0, stacked(b.train, 0)[0])
    plain = build("builtin:digits", seed=7, shuffle=False)
    assert not torch.equal(x0, stacked(plain.train, 0)[0])


def test_augmentation_flip_and_crop_geometry() -> None:
    image = torch.arange(16.0).reshape(1, 4, 4)
    flip_only = Augmentation(flip=True, crop=False, fill=(0.0,), seed=0, num_samples=20)
    flipped = [flip_only.apply(image, 0, i) for i in range(20)]
    assert any(torch.equal(f, image.flip(-1)) for f in flipped)
    assert all(torch.equal(f, image) or torch.equal(f, image.flip(-1)) for f in flipped)
    both = Augmentation(flip=True, crop=True, fill=(-1.0,), seed=0, num_samples=20)
    flips, tops, lefts = both.choices(0, 4, 4)
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1), value=-1.0)  # pad = max(1, 4 // 8)
    for i in range(20):
        source = padded.flip(-1) if flips[i] else padded
        t, left = int(tops[i]), int(lefts[i])
        assert torch.equal(both.apply(image, 0, i), source[:, t : t + 4, left : left + 4])
    batch = image.expand(20, 1, 4, 4)
    singles = torch.stack([both.apply(image, 0, i) for i in range(20)])
    assert torch.equal(both.apply_batch(batch, 0, torch.arange(20)), singles)


@pytest.mark.parametrize("source", ["digits", "folder"])
def test_global_rng_untouched(source: str, image_folder: Path) -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    path = "builtin:digits" if source == "digits" else image_folder
    workers = 0 if source == "digits" else 2
    bundle = build(path, seed=3, batch_size=8, num_workers=workers, augmentation=AUGMENT)
    collect(bundle.train, 0)
    collect(bundle.train, 1, start_batch=1)
    assert bundle.val is not None
    collect(bundle.val, 0)
    assert torch.equal(before, torch.get_rng_state())


def test_user_dataset_randomness_is_seeded_and_isolated() -> None:
    class Noisy(Dataset[tuple[torch.Tensor, torch.Tensor]]):
        def __len__(self) -> int:
            return 12

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.rand(3), torch.tensor(i % 2)

    cfg = DataConfig(batch_size=4)
    before = torch.get_rng_state()
    first = build_data(cfg, seed=1, device="cpu", train_data=Noisy(), val_data=Noisy())
    again = build_data(cfg, seed=1, device="cpu", train_data=Noisy(), val_data=Noisy())
    assert_same(collect(first.train, 2), collect(again.train, 2))
    assert_same(collect(first.train, 2, 1), collect(again.train, 2)[1:])
    assert torch.equal(before, torch.get_rng_state())


def test_validation_is_never_shuffled_or_augmented() -> None:
    a = build("builtin:digits", seed=1, augmentation=AUGMENT)
    b = build("builtin:digits", seed=2)
    assert a.val is not None and b.val is not None
    assert_same(collect(a.val, 0), collect(b.val, 5))


def test_shuffle_false_keeps_file_order_and_drop_last(iris_csv: Path) -> None:
    bundle = build(iris_csv, shuffle=False, batch_size=40, drop_last=True)
    assert len(bundle.train) == 3 and bundle.train.num_samples == 135
    _, y = stacked(bundle.train)
    assert y.shape == (120,)
    assert y[:40].tolist() == [0] * 40  # iris rows are sorted by class


def test_tensor_batches_len_and_protocol() -> None:
    batches = TensorBatches(torch.zeros(10, 2), torch.zeros(10), batch_size=4)
    assert isinstance(batches, Batches)
    assert len(batches) == 3 and batches.num_samples == 10
    with pytest.raises(ValueError, match="outside"):
        batches.epoch(0, start_batch=4)


def test_loader_notices(image_folder: Path) -> None:
    many = build(image_folder, num_workers=10_000, pin_memory=True, persistent_workers=True)
    text = " | ".join(many.notices)
    assert "more than the" in text and "pinning is off" in text
    lonely = build(image_folder, num_workers=0, persistent_workers=True)
    assert any("persistent_workers" in n for n in lonely.notices)
    quiet = build(image_folder, num_workers=1)
    assert quiet.notices == []


def test_persistent_workers_run_several_epochs(image_folder: Path) -> None:
    bundle = build(image_folder, batch_size=6, num_workers=1, persistent_workers=True)
    first = collect(bundle.train, 0)
    collect(bundle.train, 1)
    assert_same(collect(bundle.train, 0), first)


class SignalProbe(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Reports whether the process reading it ignores Ctrl-C."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        return torch.tensor([float(ignored)]), torch.tensor(0)


def test_workers_ignore_sigint() -> None:
    # The test sets the parent's disposition itself: a runner started in the background or
    # under nohup inherits SIGINT as ignored, and the workers would then ignore it for free.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cfg = DataConfig(batch_size=4, num_workers=1)
        bundle = build_data(
            cfg, seed=0, device="cpu", train_data=SignalProbe(), val_data=SignalProbe()
        )
        ((x, _),) = collect(bundle.train)
        assert x.flatten().tolist() == [1.0] * 4
        # the main process keeps its handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_validation_uses_eval_batch_size_and_training_keeps_its_own(image_folder: Path) -> None:
    digits = build("builtin:digits", batch_size=32, eval_batch_size=256)
    assert {len(y) for _, y in collect(digits.train, 0)[:-1]} == {32}
    assert len(collect(digits.val, 0)[0][1]) == min(
        256, sum(len(y) for _, y in digits.val.epoch(0))
    )
    plain = build("builtin:digits", batch_size=32)
    assert torch.equal(stacked(digits.val)[0], stacked(plain.val)[0])  # same samples, same order
    assert len(collect(plain.val, 0)[0][1]) == 32
    folder = build(image_folder, batch_size=4, eval_batch_size=6, val_split=0.5)
    val_sizes = [len(y) for _, y in collect(folder.val, 0)]
    assert val_sizes[0] == min(6, sum(val_sizes)) and max(val_sizes) <= 6
    assert sum(val_sizes) > 4  # so the first validation batch shows the eval size
    assert max(len(y) for _, y in collect(folder.train, 0)) == 4
