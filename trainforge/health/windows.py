"""Window arithmetic the health rules share: episode onsets, trailing medians and means.

All vectorised (numpy), so a rule over a million records costs milliseconds.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = np.ndarray


def onsets(mask: np.ndarray) -> np.ndarray:
    """Indices where a boolean series turns true (index 0 counts if it starts true)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        return np.zeros(0, dtype=np.int64)
    previous = np.concatenate(([False], mask[:-1]))
    return np.flatnonzero(mask & ~previous)


def trailing_median(values: FloatArray, window: int) -> FloatArray:
    """Median of the ``window`` values before each index (NaN where fewer exist).

    The upper middle value for even windows: one partition instead of a full median.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if values.size <= window:
        return out
    windows = sliding_window_view(values[:-1], window)
    out[window:] = np.partition(windows, window // 2, axis=1)[:, window // 2]
    return out


def trailing_median_where(values: FloatArray, window: int, factor: float) -> FloatArray:
    """:func:`trailing_median`, computed only where ``value > factor x median`` is possible.

    A value above ``factor`` times its window's median is above ``factor`` times the window's
    minimum too; the minimum is cheap, so only those candidates pay for a median (NaN
    elsewhere). A window holding a NaN has a NaN minimum and is never a candidate.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if values.size <= window:
        return out
    windows = sliding_window_view(values[:-1], window)
    lows = sliding_min(values[:-1], window)
    with np.errstate(invalid="ignore"):
        candidates = np.flatnonzero(values[window:] > factor * lows)
    if candidates.size:
        picked = np.partition(windows[candidates], window // 2, axis=1)[:, window // 2]
        out[window + candidates] = picked
    return out


def sliding_min(values: FloatArray, window: int) -> FloatArray:
    """``sliding_window_view(values, window).min(axis=1)`` in O(n) instead of O(n x window):
    minima running forwards and backwards inside blocks of ``window`` values, so any window
    is the union of one block's tail and the next block's head (NaN propagates, as in min)."""
    values = np.asarray(values, dtype=np.float64)
    count = values.size - window + 1
    if count <= 0:
        return np.zeros(0)
    padded = np.concatenate((values, np.full(-values.size % window, np.inf)))
    blocks = padded.reshape(-1, window)
    head = np.minimum.accumulate(blocks, axis=1).ravel()
    tail = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(tail[:count], head[window - 1 : window - 1 + count])


def trailing_mean(values: FloatArray, window: int) -> FloatArray:
    """Mean of the ``window`` values ending at each index, NaN before the first full window."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if values.size < window:
        return out
    sums = np.cumsum(np.concatenate(([0.0], values)))
    out[window - 1 :] = (sums[window:] - sums[:-window]) / window
    return out
