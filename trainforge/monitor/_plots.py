"""Learning-curve figures (headless, drawn with Pillow): one panel per kind of series in a log.

The x axis is epochs for every panel: step records are placed by the epoch records' global
steps, so a resumed run (whose steps continue) draws one continuous line. Long series are
thinned to a few thousand points per line (bucket means, with the bucket's min-max as a band)
so a million-record log plots in a fraction of a second.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainforge.health.series import Series, column, length

MAX_POINTS = 2000


def step_to_epoch(series: Series, steps: np.ndarray) -> np.ndarray:
    """Fractional epochs for global steps, from the epoch records' (step, epoch) pairs."""
    e = series.epochs
    if length(e) == 0:
        s = series.steps
        if length(s) and np.isfinite(column(s, "epoch")).any():
            # No epoch finished yet: spread the steps over the epoch they were logged in.
            return column(s, "epoch") - 1 + _fraction(steps)
        return steps.astype(np.float64)
    ends = column(e, "step")
    epochs = column(e, "epoch")
    keep = np.isfinite(ends) & np.isfinite(epochs)
    ends, epochs = ends[keep], epochs[keep]
    order = np.argsort(ends, kind="stable")
    ends, epochs = np.concatenate(([0.0], ends[order])), np.concatenate(([0.0], epochs[order]))
    x = np.interp(steps, ends, epochs)
    # Past the last finished epoch: continue at the last epoch's steps per epoch.
    if len(ends) >= 2 and ends[-1] > ends[-2]:
        per_epoch = (ends[-1] - ends[-2]) / max(epochs[-1] - epochs[-2], 1e-9)
        beyond = steps > ends[-1]
        x[beyond] = epochs[-1] + (steps[beyond] - ends[-1]) / per_epoch
    return x


def _fraction(steps: np.ndarray) -> np.ndarray:
    if steps.size == 0 or not np.isfinite(steps).any():
        return np.zeros_like(steps, dtype=np.float64)
    span = max(float(np.nanmax(steps)), 1.0)
    return np.nan_to_num(steps / span)


@dataclass
class Line:
    label: str
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    marker: str | None = None


def thin(x: np.ndarray, y: np.ndarray, label: str, points: int = MAX_POINTS) -> Line:
    """At most ``points`` bucket means, with each bucket's min and max (finite values only)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size <= points:
        return Line(label, x, y)
    edges = np.linspace(0, x.size, points + 1).astype(np.int64)
    starts = edges[:-1]
    counts = np.diff(edges)
    xm = np.add.reduceat(x, starts) / counts
    ym = np.add.reduceat(y, starts) / counts
    return Line(label, xm, ym, np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts))


@dataclass
class Panel:
    title: str
    lines: list[Line]
    log_y: bool = False
    ylabel: str = ""
    xlabel: str = "epoch"


def curve_panels(series: Series) -> list[Panel]:
    """Loss, validation metrics, LR and grad-norm panels, for what the log holds."""
    panels: list[Panel] = []
    s, v, e = series.steps, series.validations, series.epochs
    step_x = step_to_epoch(series, column(s, "step")) if length(s) else np.zeros(0)
    val_x = step_to_epoch(series, column(v, "step")) if length(v) else np.zeros(0)
    losses = []
    if length(s):
        losses.append(thin(step_x, column(s, "loss"), "step loss"))
    if length(e) and "train_loss" in e:
        losses.append(Line("train_loss", column(e, "epoch"), e["train_loss"], marker="o"))
    if length(v) and "val_loss" in v:
        losses.append(Line("val_loss", val_x, v["val_loss"], marker="o"))
    losses = [line for line in losses if np.isfinite(line.y).any()]
    if losses:
        positive = all(np.nanmin(line.y) > 0 for line in losses)
        panels.append(Panel("loss", losses, log_y=positive and _spread(losses) > 30))
    metric_lines = [
        Line(name, val_x, values, marker="o")
        for name, values in (v.items() if length(v) else [])
        if name not in ("step", "epoch", "val_loss") and np.isfinite(values).any()
    ]
    if length(e) and "train_accuracy" in e:
        metric_lines.append(Line("train_accuracy", column(e, "epoch"), e["train_accuracy"]))
    if metric_lines:
        panels.append(Panel("validation metrics", metric_lines))
    if length(s) and np.isfinite(column(s, "lr")).any():
        panels.append(Panel("learning rate", [thin(step_x, column(s, "lr"), "lr")]))
    if length(s) and np.isfinite(column(s, "grad_norm")).any():
        norm = thin(step_x, column(s, "grad_norm"), "grad norm")
        panels.append(Panel("gradient norm", [norm], log_y=_spread([norm]) > 30))
    return panels


def resource_panels(series: Series) -> list[Panel]:
    """CPU, memory and GPU panels over the run's wall-clock minutes."""
    r = series.resources
    if length(r) < 2:  # one sample is no curve
        return []
    t = column(r, "time")
    minutes = (t - np.nanmin(t)) / 60 if np.isfinite(t).any() else np.arange(length(r))
    out = []
    for title, names in (
        ("CPU %", ("cpu_percent",)),
        ("memory", ("rss_mb",)),
        ("GPU", ("gpu_utilization", "gpu_memory_used_mb")),
    ):
        lines = [thin(minutes, r[n], n) for n in names if n in r and np.isfinite(r[n]).any()]
        if lines:
            out.append(Panel(title, lines, xlabel="minutes"))
    return out


def _spread(lines: Sequence[Line]) -> float:
    values = np.concatenate([line.y[np.isfinite(line.y)] for line in lines])
    values = values[values > 0]
    if values.size == 0:
        return 0.0
    return float(values.max() / values.min())


def import_in_background(*modules: str) -> threading.Thread:
    """Import ``modules`` and Pillow on a side thread, after polars on this one.

    That Python then runs while this thread reads and parses the log (file reads and polars'
    parser do not hold the GIL); whoever imports one of them later waits for the side thread
    through the import lock. polars comes first, alone: the parse cannot start without it."""
    import polars  # noqa: F401

    names = (*modules, "PIL.Image", "PIL.ImageDraw", "PIL.ImageFont")
    thread = threading.Thread(target=_import, args=(names,), name="monitor-imports")
    thread.start()
    return thread


def _import(names: Sequence[str]) -> None:
    for name in names:
        importlib.import_module(name)


def draw(panels: list[Panel], *, title: str = "", columns: int = 2) -> Any:
    """The figure (a Pillow image): one axes per panel, ``columns`` to a row."""
    from trainforge.monitor._raster import render

    return render(panels, title=title, columns=columns)


def png_bytes(fig: Any) -> bytes:
    from trainforge.monitor._raster import png_bytes as encode

    return encode(fig)


def save_png(fig: Any, output: Path) -> None:
    from trainforge._fileio import atomic_write

    atomic_write(output, lambda tmp: tmp.write_bytes(png_bytes(fig)))
