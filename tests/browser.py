"""Render an HTML report in headless Chromium, as a user's browser would, and read back what happened.

The page is copied with a small recorder script put first in its ``<head>``: it records uncaught
script errors, rejected promises, ``console.error`` calls and resources that failed to load (a CDN
script offline, say) into a hidden element, which ``--dump-dom`` then returns with the DOM as the
page's scripts left it. A second run takes a screenshot for a person (or the file tool) to look at.

Chromium comes from Debian's ``chromium`` package (``make test`` installs it where it can); where it
is absent the calling test is skipped with that reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

_RECORDER = """<script>(function(){
var seen=[];
function flush(){if(!document.body)return;var el=document.getElementById('__tf_errors');
if(!el){el=document.createElement('pre');el.id='__tf_errors';el.style.display='none';
document.body.appendChild(el);}el.textContent=JSON.stringify(seen);}
function put(m){seen.push(String(m));flush();}
window.addEventListener('error',function(e){
if(e.target&&e.target!==window&&(e.target.src||e.target.href)){put('resource failed: '+(e.target.src||e.target.href));}
else{put('error: '+e.message);}},true);
window.addEventListener('unhandledrejection',function(e){put('rejection: '+e.reason);});
var ce=console.error;console.error=function(){put('console.error: '+Array.prototype.join.call(arguments,' '));
ce.apply(console,arguments);};
document.addEventListener('DOMContentLoaded',flush);window.addEventListener('load',flush);
})();</script>"""


@dataclass(frozen=True)
class Rendered:
    dom: str  # the document after its scripts ran
    errors: list[str]  # script errors, console errors and failed resource loads
    screenshot: Path


def chromium() -> str:
    """The browser's path, or skip the calling test with the reason."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "headless Chromium is not installed (Debian package `chromium`; `make test` installs it)"
    )


def render_html(
    path: Path, workdir: Path, *, budget_ms: int = 8000, size: tuple[int, int] = (1280, 2400)
) -> Rendered:
    """Open ``path`` in headless Chromium; return its final DOM, its errors and a screenshot."""
    browser = chromium()
    workdir.mkdir(parents=True, exist_ok=True)
    page = workdir / f"rendered_{path.name}"
    text = path.read_text(encoding="utf-8")
    head = text.find("<head>")
    if head >= 0:
        text = text[: head + 6] + _RECORDER + text[head + 6 :]
    else:
        text = _RECORDER + text
    page.write_text(text, encoding="utf-8")
    url = page.resolve().as_uri()
    common = [browser, *_FLAGS, f"--virtual-time-budget={budget_ms}"]

    dumped = subprocess.run(
        [*common, f"--user-data-dir={workdir / 'profile-dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if dumped.returncode != 0 or "<html" not in dumped.stdout:
        raise AssertionError(f"chromium could not render {path}: {dumped.stderr[-2000:]}")
    shot = workdir / f"{path.stem}.png"
    subprocess.run(
        [
            *common,
            f"--user-data-dir={workdir / 'profile-shot'}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Rendered(dom=dumped.stdout, errors=_recorded_errors(dumped.stdout), screenshot=shot)


def _recorded_errors(dom: str) -> list[str]:
    marker = '<pre id="__tf_errors" style="display: none;">'
    start = dom.find(marker)
    if start < 0:
        return []
    end = dom.find("</pre>", start)
    raw = dom[start + len(marker) : end]
    raw = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return [str(e) for e in json.loads(raw)]
