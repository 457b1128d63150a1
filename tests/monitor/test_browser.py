"""The HTML reports in headless Chromium: they render offline, images decode, no script errors."""

from __future__ import annotations

from pathlib import Path

from browser import render_html
from PIL import Image

from trainforge.monitor import analyze, compare


def colours(png: Path) -> int:
    with Image.open(png) as image:
        found = image.convert("RGB").getcolors(maxcolors=1_000_000)
    return len(found) if found is not None else 1_000_000


def test_diagnostics_report_renders(overfit_run: Path, tmp_path: Path) -> None:
    report = tmp_path / "diagnostics.html"
    analyze(overfit_run, report)
    shown = render_html(report, tmp_path / "browser")
    assert shown.errors == []  # an image that fails to decode is reported here too
    assert shown.dom.count("<img") >= 1 and "overfitting?" in shown.dom
    assert colours(shown.screenshot) > 100  # curves drawn, not a blank page


def test_comparison_renders(healthy_run: Path, overfit_run: Path, tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    compare([healthy_run, overfit_run], page)
    shown = render_html(page, tmp_path / "browser")
    assert shown.errors == []
    assert "model.hidden_sizes" in shown.dom
    assert colours(shown.screenshot) > 100
