"""The headless-browser helper that the HTML report tests stand on sees what a user's browser sees."""

from __future__ import annotations

from pathlib import Path

from browser import render_html


def test_clean_page_renders_with_no_errors(tmp_path: Path) -> None:
    page = tmp_path / "ok.html"
    page.write_text(
        "<html><head><title>t</title></head><body><div id='a'>x</div>"
        "<script>document.getElementById('a').textContent='drawn by script';</script></body></html>"
    )
    shown = render_html(page, tmp_path / "out")
    assert "drawn by script" in shown.dom
    assert shown.errors == []
    assert shown.screenshot.stat().st_size > 0


def test_script_errors_and_failed_resources_are_recorded(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><head><script src='https://cdn.invalid/lib.js'></script></head><body>"
        "<script>console.error('boom'); notDefined();</script></body></html>"
    )
    errors = render_html(page, tmp_path / "out").errors
    assert any("boom" in e for e in errors)
    assert any("notDefined" in e for e in errors)
    assert any("cdn.invalid" in e for e in errors)
