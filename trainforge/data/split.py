"""The train/validation split: stratified, seeded by ``data.split_seed`` alone.

The split seed is independent of the training seed, so runs that differ only in their seed
validate on the same rows and their validation metrics stay comparable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from trainforge.data.seeding import derive_seed
from trainforge.errors import DataError


def split_indices(
    n: int, fraction: float, seed: int, labels: Sequence[int] | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) row indices, both sorted; stratified by ``labels`` when given."""
    if n < 2:
        raise DataError(
            f"cannot hold out data.val_split of {n} sample(s); add data or give data.val_path"
        )
    n_val = min(n - 1, max(1, round(n * fraction)))
    rng = np.random.default_rng(derive_seed(seed, "split"))
    if labels is None:
        val = rng.permutation(n)[:n_val]
    else:
        val = _stratified_val(np.asarray(labels), n_val, rng)
    train = np.setdiff1d(np.arange(n), val)
    return train, np.sort(val)


def _stratified_val(labels: np.ndarray, n_val: int, rng: np.random.Generator) -> np.ndarray:
    classes, counts = np.unique(labels, return_counts=True)
    quotas = _class_quotas(counts, n_val)
    picks = []
    for cls, quota in zip(classes, quotas, strict=True):
        members = np.flatnonzero(labels == cls)
        picks.append(rng.permutation(members)[:quota])
    return np.concatenate(picks)


def _class_quotas(counts: np.ndarray, n_val: int) -> np.ndarray:
    """Validation rows per class: proportional to class size, summing to ``n_val``.

    Largest-remainder rounding keeps the total exact; no class gives up its last training
    sample (the model could never learn it), so a class with one sample stays in training.
    """
    ideal = counts * (n_val / counts.sum())
    quotas = np.minimum(np.floor(ideal).astype(int), counts - 1)
    by_remainder = np.argsort(-(ideal - quotas), kind="stable")
    while quotas.sum() < n_val:
        room = [c for c in by_remainder if quotas[c] < counts[c] - 1]
        if not room:  # every class is down to its last training sample
            break
        for c in room[: n_val - int(quotas.sum())]:
            quotas[c] += 1
    return quotas


def index_split_hash(n: int, val_indices: Iterable[int]) -> str:
    """Fingerprint of a split: equal hashes mean the same rows were held out of ``n``."""
    text = f"n={n};val=" + ",".join(str(int(i)) for i in sorted(val_indices))
    return hashlib.sha256(text.encode()).hexdigest()


def files_hash(paths: Iterable[str | Path]) -> str:
    """Fingerprint of data files (contents) and folders (relative paths and sizes)."""
    h = hashlib.sha256()
    for path in paths:
        p = Path(path)
        h.update(f"<{p.name}>".encode())
        if p.is_dir():
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                h.update(f"{f.relative_to(p).as_posix()}:{f.stat().st_size};".encode())
        elif p.is_file():
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        else:  # builtin:NAME or a custom source: its name identifies it
            h.update(str(path).encode())
    return h.hexdigest()
