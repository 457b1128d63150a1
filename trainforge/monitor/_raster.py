"""The monitor's figures drawn straight with Pillow: panels of lines, bands and markers.

A learning-curves figure is a few thousand points per line on a handful of axes, which
Pillow draws in C in milliseconds. matplotlib would cost ~0.5 s to import and as much again
to lay out each figure, most of a big log's report. Everything is drawn at twice the size
and halved at the end, which smooths lines and text (antialiasing).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

    from trainforge.monitor._plots import Line, Panel

SCALE = 2  # drawn at twice the size, then halved
CELL_WIDTH, CELL_HEIGHT = 600, 360  # one panel: 6 x 3.6 inches at 100 dpi
SUPTITLE = 30
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 74, 18, 30, 50
# matplotlib's default colour cycle ("tab10"), so the figures look as they always did.
COLOURS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
INK, GRID, FRAME = (34, 34, 34), (226, 226, 226), (60, 60, 60)


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib, found without importing it), else Pillow's."""
    from PIL import ImageFont

    spec = find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size * SCALE)
    return ImageFont.load_default(size * SCALE)  # type: ignore[return-value]


def linear_ticks(low: float, high: float, target: int = 6) -> tuple[np.ndarray, list[str]]:
    """Round-number ticks in ``[low, high]`` (steps of 1, 2, 2.5 or 5 x 10^k) and labels."""
    span = high - low
    magnitude = 10.0 ** math.floor(math.log10(span / target))
    multiple, step = 10.0, 10 * magnitude
    for multiple in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = multiple * magnitude
        if span / step <= target:
            break
    first = math.ceil(low / step - 1e-9)
    ticks = (first + np.arange(math.floor(high / step + 1e-9) - first + 1)) * step
    return ticks, [_label(float(v), step, multiple) for v in ticks]


def _label(value: float, step: float, multiple: float) -> str:
    if abs(value) < step * 1e-6:
        return "0"
    if step >= 1 and float(step).is_integer() and abs(value) < 1e7:
        return str(round(value))
    if 1e-4 <= abs(value) < 1e6:
        decimals = max(0, -math.floor(math.log10(step)) + (multiple == 2.5))
        return f"{value:.{decimals}f}"
    digits = math.floor(math.log10(abs(value))) - math.floor(math.log10(step)) + 1
    return f"{value:.{max(1, digits + (multiple == 2.5))}g}"


def log_ticks(low: float, high: float) -> tuple[np.ndarray, list[str]]:
    """Ticks of a log10 axis spanning ``[low, high]`` (exponents): decades, then 2 and 5."""
    exponents = np.arange(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1)
    values = 10.0**exponents
    for extra in ((2.0, 5.0), (2.0, 3.0, 5.0, 7.0)):
        if values.size >= 3:
            break
        near = np.arange(math.floor(low), math.ceil(high) + 1)
        values = np.array(sorted({*values, *(m * 10.0**k for m in extra for k in near)}))
        values = values[(np.log10(values) >= low - 1e-9) & (np.log10(values) <= high + 1e-9)]
    return np.log10(values), [f"{v:g}" for v in values]


@dataclass
class Axes:
    """A panel's plotting area in (scaled) pixels and its data limits."""

    left: float
    top: float
    right: float
    bottom: float
    x_limits: tuple[float, float]
    y_limits: tuple[float, float]
    log_y: bool

    def x(self, values: np.ndarray) -> np.ndarray:
        low, high = self.x_limits
        return self.left + (values - low) / (high - low) * (self.right - self.left)

    def y(self, values: np.ndarray) -> np.ndarray:
        if self.log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log10(values)
        return self.y_units(values)

    def y_units(self, values: np.ndarray) -> np.ndarray:
        """Pixels of values already in the axis' units (log10 on a log axis)."""
        low, high = self.y_limits
        return self.bottom - (values - low) / (high - low) * (self.bottom - self.top)


def render(panels: Sequence[Panel], *, title: str = "", columns: int = 2) -> Image.Image:
    """The figure as an RGB image: one axes per panel, ``columns`` to a row."""
    from PIL import Image, ImageDraw

    columns = max(1, min(columns, len(panels)))
    rows = max(1, -(-len(panels) // columns))
    top = SUPTITLE if title else 0
    width, height = CELL_WIDTH * columns, CELL_HEIGHT * rows + top
    image = Image.new("RGB", (width * SCALE, height * SCALE), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    if title:
        draw.text((width * SCALE / 2, 8 * SCALE), title, fill=INK, font=font(14), anchor="mt")
    for index, panel in enumerate(panels):
        row, col = divmod(index, columns)
        _panel(image, draw, panel, col * CELL_WIDTH, top + row * CELL_HEIGHT)
    if not panels:
        centre = (width * SCALE / 2, height * SCALE / 2)
        draw.text(centre, "nothing to plot yet", fill=INK, font=font(12), anchor="mm")
    return image.reduce(SCALE)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _limits(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    """Data limits with matplotlib's 5% margins (log10 units on a log axis)."""
    finite = [v[np.isfinite(v) & (v > 0 if log else True)] for v in values]
    both = np.concatenate(finite) if finite else np.zeros(0)
    if both.size == 0:
        return (0.0, 1.0)
    if log:
        both = np.log10(both)
    low, high = float(both.min()), float(both.max())
    if high - low < 1e-12 * max(1.0, abs(high)):
        pad = abs(high) * 0.05 or (0.05 if log else 0.5)
        return low - pad, high + pad
    margin = (high - low) * 0.05
    return low - margin, high + margin


def _panel(image: Image.Image, draw: ImageDraw.ImageDraw, panel: Panel, x0: int, y0: int) -> None:
    s = SCALE
    xs = [line.x for line in panel.lines]
    ys = [v for line in panel.lines for v in (line.y, line.low, line.high) if v is not None]
    axes = Axes(
        (x0 + MARGIN_LEFT) * s,
        (y0 + MARGIN_TOP) * s,
        (x0 + CELL_WIDTH - MARGIN_RIGHT) * s,
        (y0 + CELL_HEIGHT - MARGIN_BOTTOM) * s,
        _limits(xs, log=False),
        _limits(ys, log=panel.log_y),
        panel.log_y,
    )
    x_ticks, x_labels = linear_ticks(*axes.x_limits)
    y_ticks, y_labels = (log_ticks if panel.log_y else linear_ticks)(*axes.y_limits)
    small = font(10)
    for at, label in zip(axes.x(x_ticks).tolist(), x_labels, strict=True):
        draw.line([(at, axes.top), (at, axes.bottom)], fill=GRID, width=s)
        draw.line([(at, axes.bottom), (at, axes.bottom + 4 * s)], fill=FRAME, width=s)
        draw.text((at, axes.bottom + 6 * s), label, fill=INK, font=small, anchor="mt")
    for at, label in zip(axes.y_units(y_ticks).tolist(), y_labels, strict=True):
        draw.line([(axes.left, at), (axes.right, at)], fill=GRID, width=s)
        draw.line([(axes.left - 4 * s, at), (axes.left, at)], fill=FRAME, width=s)
        draw.text((axes.left - 6 * s, at), label, fill=INK, font=small, anchor="rm")
    placed = []
    for index, line in enumerate(panel.lines):
        colour = COLOURS[index % len(COLOURS)]
        placed.append(_line(image, draw, axes, line, colour))
    draw.rectangle([axes.left, axes.top, axes.right, axes.bottom], outline=FRAME, width=s)
    middle = (axes.left + axes.right) / 2
    draw.text((middle, axes.top - 7 * s), panel.title, fill=INK, font=font(12), anchor="ms")
    draw.text((middle, axes.bottom + 24 * s), panel.xlabel, fill=INK, font=font(11), anchor="mt")
    if len(panel.lines) > 1 or panel.lines[0].label not in (panel.title, "lr"):
        _legend(draw, axes, panel.lines, placed)


def _line(
    image: Image.Image,
    draw: ImageDraw.ImageDraw,
    axes: Axes,
    line: Line,
    colour: tuple[int, int, int],
) -> np.ndarray:
    """Draws one line (its band and markers too); returns its points in pixels."""
    s = SCALE
    px, py = axes.x(line.x), axes.y(line.y)
    if line.low is not None and line.high is not None:
        _band(image, axes, px, axes.y(line.low), axes.y(line.high), colour)
    points = np.column_stack((px, py))
    finite = np.isfinite(px) & np.isfinite(py)
    # A gap (NaN) breaks the line, as in matplotlib.
    breaks = np.flatnonzero(np.diff(finite.astype(np.int8)) != 0) + 1
    for segment, ok in zip(np.split(points, breaks), np.split(finite, breaks), strict=True):
        if ok[0] and len(segment) >= 2:
            draw.line(segment.ravel().tolist(), fill=colour, width=2 * s)
    if line.marker:
        r = 2.2 * s
        for x, y in points[finite].tolist():
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return points[finite]


def _band(
    image: Image.Image,
    axes: Axes,
    px: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    colour: tuple[int, int, int],
) -> None:
    """Each bucket's min-max range, tinted, pixel column by pixel column: a one-step spike
    stays a visible mark however many records share its bucket."""
    from PIL import Image

    keep = np.isfinite(px) & np.isfinite(low) & np.isfinite(high)
    px, low, high = px[keep], low[keep], high[keep]
    if px.size == 0:
        return
    left, top = math.floor(axes.left), math.floor(axes.top)
    width, height = math.ceil(axes.right) - left + 1, math.ceil(axes.bottom) - top + 1
    columns = np.clip(np.rint(px - left).astype(np.int64), 0, width - 1)
    upper = np.full(width, np.inf)
    lower = np.full(width, -np.inf)
    np.minimum.at(upper, columns, high - top)  # pixel rows grow downwards
    np.maximum.at(lower, columns, low - top)
    # Columns between buckets (a sparse stretch) take their neighbours' range.
    hit = np.flatnonzero(np.isfinite(upper))
    span = np.arange(hit[0], hit[-1] + 1)
    upper_span = np.interp(span, hit, upper[hit])
    lower_span = np.interp(span, hit, lower[hit])
    rows = np.arange(height)[:, None]
    inside = (rows >= np.floor(upper_span)) & (rows <= np.ceil(lower_span))
    inside[:, 1:] |= inside[:, :-1].copy()  # two pixels wide at least (one when halved)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[:, span] = inside * np.uint8(72)
    image.paste(colour, (left, top, left + width, top + height), Image.fromarray(mask))


def _legend(
    draw: ImageDraw.ImageDraw, axes: Axes, lines: Sequence[Line], placed: list[np.ndarray]
) -> None:
    """A legend box in the corner that hides the fewest points (upper right on a tie)."""
    s = SCALE
    small = font(9)
    widths = [draw.textlength(line.label, font=small) for line in lines]
    box_w = 36 * s + max(widths)
    box_h = (len(lines) * 15 + 8) * s
    pad = 8 * s
    corners = [
        (axes.right - pad - box_w, axes.top + pad),
        (axes.left + pad, axes.top + pad),
        (axes.left + pad, axes.bottom - pad - box_h),
        (axes.right - pad - box_w, axes.bottom - pad - box_h),
    ]
    everything = np.concatenate(placed) if placed else np.zeros((0, 2))

    def hidden(corner: tuple[float, float]) -> int:
        x, y = corner
        inside = (everything[:, 0] >= x) & (everything[:, 0] <= x + box_w)
        inside &= (everything[:, 1] >= y) & (everything[:, 1] <= y + box_h)
        return int(inside.sum())

    x, y = min(corners, key=hidden)
    draw.rectangle([x, y, x + box_w, y + box_h], fill=(255, 255, 255, 215), outline=GRID, width=s)
    for index, line in enumerate(lines):
        middle = y + (4 + 15 * index + 7.5) * s
        colour = COLOURS[index % len(COLOURS)]
        draw.line([(x + 6 * s, middle), (x + 26 * s, middle)], fill=colour, width=2 * s)
        draw.text((x + 31 * s, middle), line.label, fill=INK, font=small, anchor="lm")
