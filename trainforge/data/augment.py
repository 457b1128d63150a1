"""Random flip and crop on image tensors: a pure function of (seed, epoch, sample index).

Each epoch has a table of per-sample choices, drawn from a local generator seeded by
(seed, epoch) and looked up by sample index. So a sample's augmentation never depends on
which worker read it, on the batch it is in or on where an interrupted epoch resumed, and
the global torch RNG (the model's dropout uses it; resume restores it) is never touched.
A table, not a generator per sample, so that in-memory batches augment in a few tensor ops.
"""

from __future__ import annotations

import torch

from trainforge.data.seeding import local_generator


def crop_padding(size: int) -> int:
    """Padding on each side before cropping back: 1/8 of the side, at least one pixel."""
    return max(1, size // 8)


class Augmentation:
    """Flip and/or pad-and-crop of model-input images [N, C, H, W] of one data set."""

    def __init__(
        self, flip: bool, crop: bool, fill: tuple[float, ...], seed: int, num_samples: int
    ) -> None:
        self.flip = flip
        self.crop = crop
        self.fill = fill  # per channel: the model-input value of a black pixel
        self.seed = seed
        self.num_samples = num_samples
        self._table: tuple[int, torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def active(self) -> bool:
        return self.flip or self.crop

    def choices(
        self, epoch: int, height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(flip?, crop top, crop left) of every sample in ``epoch``; always all three draws,
        so switching one augmentation on or off leaves the other's choices unchanged."""
        if self._table is None or self._table[0] != epoch:
            gen = local_generator(self.seed, "augment", epoch)
            n = self.num_samples
            flips = torch.rand(n, generator=gen) < 0.5
            tops = torch.randint(0, 2 * crop_padding(height) + 1, (n,), generator=gen)
            lefts = torch.randint(0, 2 * crop_padding(width) + 1, (n,), generator=gen)
            self._table = (epoch, flips, tops, lefts)
        return self._table[1], self._table[2], self._table[3]

    def apply_batch(self, images: torch.Tensor, epoch: int, indices: torch.Tensor) -> torch.Tensor:
        """Augmented copy of a batch [N, C, H, W] whose rows are the samples ``indices``."""
        n, c, h, w = images.shape
        flips, tops, lefts = (t[indices] for t in self.choices(epoch, h, w))
        if self.flip:
            images = torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)
        if self.crop:
            ph, pw = crop_padding(h), crop_padding(w)
            fill = torch.tensor(self.fill, dtype=images.dtype).view(1, -1, 1, 1)
            canvas = fill.expand(n, c, h + 2 * ph, w + 2 * pw).clone()
            canvas[:, :, ph : ph + h, pw : pw + w] = images
            rows = (tops.view(-1, 1) + torch.arange(h)).view(n, 1, h, 1)
            cols = (lefts.view(-1, 1) + torch.arange(w)).view(n, 1, 1, w)
            batch = torch.arange(n).view(n, 1, 1, 1)
            channel = torch.arange(c).view(1, c, 1, 1)
            images = canvas[batch, channel, rows, cols]
        return images.contiguous()

    def apply(self, image: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        """Augmented copy of one image [C, H, W], sample ``index`` of the data set."""
        return self.apply_batch(image.unsqueeze(0), epoch, torch.tensor([index]))[0]
