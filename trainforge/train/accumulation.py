"""Gradient accumulation arithmetic (pure)."""

from __future__ import annotations


def window_sample_count(
    first_batch: int,
    n_batches: int,
    batch_size: int,
    num_samples: int,
    accumulation: int,
    drop_last: bool,
) -> int:
    """Samples in the accumulation window that starts at batch ``first_batch`` of an epoch.

    Each micro-batch's mean loss is weighted by its share of this count, so the accumulated
    gradient equals the gradient of one big batch.
    """
    last = min(first_batch + accumulation, n_batches)
    total = 0
    for b in range(first_batch, last):
        is_final = b == n_batches - 1
        size = batch_size if (drop_last or not is_final) else num_samples - b * batch_size
        total += max(0, min(batch_size, size))
    return max(1, total)
