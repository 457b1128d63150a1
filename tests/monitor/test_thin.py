"""Long series are thinned before drawing, without hiding a spike; short ones are drawn as
they are. The figures are real PNGs (Pillow), checked pixel by pixel."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from trainforge.monitor import _plots, _raster


def spiky(n: int, at: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype=np.float64) / 1000
    y = 1.0 + 0.01 * np.sin(np.arange(n) / 50)
    y[at] = 50.0  # one step, one record in a million
    return x, y


def test_a_single_step_spike_survives_thinning() -> None:
    x, y = spiky(1_000_000, 654_321)
    line = _plots.thin(x, y, "loss")
    assert line.x.size == _plots.MAX_POINTS and line.high is not None and line.low is not None
    assert line.high.max() == 50.0  # the spike's bucket keeps its maximum
    bucket = int(np.argmax(line.high))
    assert abs(line.x[bucket] - x[654_321]) < 1.0  # ... at the spike's place
    assert np.all(line.low <= line.y) and np.all(line.y <= line.high)
    assert line.low.min() >= y.min() and np.isclose(line.y.mean(), y.mean(), rtol=1e-3)


def test_a_short_series_is_not_thinned() -> None:
    x = np.arange(300, dtype=np.float64)
    y = np.linspace(2.0, 0.1, 300)
    y[7] = np.nan  # non-finite values are left out, the rest kept as they are
    line = _plots.thin(x, y, "loss")
    assert line.low is None and line.high is None
    np.testing.assert_array_equal(line.x, np.delete(x, 7))
    np.testing.assert_array_equal(line.y, np.delete(y, 7))


def pixels(panels: list[_plots.Panel], **kwargs: object) -> np.ndarray:
    png = _plots.png_bytes(_plots.draw(panels, **kwargs))  # type: ignore[arg-type]
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB")).astype(np.int64)


def test_the_spike_is_drawn_in_the_png() -> None:
    x, y = spiky(1_000_000, 654_321)
    panel = _plots.Panel("loss", [_plots.thin(x, y, "loss")])
    image = pixels([panel], columns=1)
    assert image.shape == (360, 600, 3)
    # The axes run from y=1 to y=50 (plus margins): the spike is the only thing drawn in
    # the upper half of the plotting area, a band tinted in the line's colour.
    top = image[_raster.MARGIN_TOP + 5 : 180, _raster.MARGIN_LEFT + 5 : -_raster.MARGIN_RIGHT - 5]
    tinted = (top[..., 2] > top[..., 0] + 20).any(axis=0)
    columns = np.flatnonzero(tinted)
    assert 0 < columns.size < 10  # one thin vertical mark ...
    spike_at = (654.321 - (-0.05 * 999.999)) / (999.999 * 1.1)  # ... where the spike is
    width = image.shape[1] - _raster.MARGIN_LEFT - _raster.MARGIN_RIGHT - 10
    assert abs(columns.mean() / width - spike_at) < 0.02


def test_figures_of_several_panels_gaps_and_log_axes() -> None:
    x = np.arange(1, 101, dtype=np.float64)
    gappy = 1 / x
    gappy[40:50] = np.nan
    panels = [
        _plots.Panel("loss", [_plots.Line("val_loss", x, gappy, marker="o")], log_y=True),
        _plots.Panel("lr", [_plots.Line("lr", x, np.full(100, 1e-3))]),
        _plots.Panel("two", [_plots.Line("a", x, x), _plots.Line("b", x, -x)]),
    ]
    image = pixels(panels, title="run")
    assert image.shape == (2 * 360 + _raster.SUPTITLE, 1200, 3)
    colours = {tuple(c) for c in image.reshape(-1, 3)[::7]}
    assert len(colours) > 50  # lines, markers, text: not a blank canvas
    empty = pixels([])
    assert (empty < 200).any() and empty.shape == (360, 600, 3)  # "nothing to plot yet"


def test_tick_labels() -> None:
    ticks, labels = _raster.linear_ticks(-50.0, 1050.0)
    assert labels == ["0", "200", "400", "600", "800", "1000"] and ticks[0] == 0
    assert _raster.linear_ticks(0.0, 0.00105)[1][:3] == ["0", "0.0002", "0.0004"]
    assert _raster.linear_ticks(0.98, 1.22)[1] == ["1.00", "1.05", "1.10", "1.15", "1.20"]
    assert _raster.linear_ticks(1e9, 1e9 + 5)[1][:2] == ["1000000000", "1000000001"]
    assert _raster.linear_ticks(0.0, 5.2e7)[1] == ["0", "1e+07", "2e+07", "3e+07", "4e+07", "5e+07"]
    exponents, log_labels = _raster.log_ticks(-2.2, 0.5)
    assert log_labels == ["0.01", "0.1", "1"] and list(exponents) == [-2, -1, 0]
    assert _raster.log_ticks(-0.4, 0.45)[1] == ["0.5", "1", "2"]
