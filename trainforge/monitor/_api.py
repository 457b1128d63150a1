"""The monitor's commands as functions: each writes one file and returns what it found.

Each starts reading its log on a side thread first, and only then imports numpy, polars and
the rest (about half a second), which go on while the file is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trainforge.errors import UsageError
from trainforge.monitor._background import Prefetch
from trainforge.monitor._folder import open_run

if TYPE_CHECKING:
    from trainforge.monitor._logfile import RunLog
    from trainforge.monitor._verdicts import Verdict


def plot_curves(log_file: str | Path, output: str | Path) -> RunLog:
    """Learning curves of ``log_file`` (a metrics.json) as a PNG at ``output``."""
    output = _output(output, (".png",), "--plot_curves")
    reading = Prefetch(log_file)
    from trainforge.monitor import _plots
    from trainforge.monitor._logfile import USED_STEP_FIELDS, read_log

    _plots.import_in_background()
    log = read_log(log_file, USED_STEP_FIELDS, reading)
    figure = _plots.draw(
        _plots.curve_panels(log.series), title=str(Path(log_file).parent.parent.name)
    )
    _plots.save_png(figure, output)
    return log


def analyze(run_dir: str | Path, output: str | Path) -> list[Verdict]:
    """The HTML diagnostics report of ``run_dir`` at ``output``; returns its verdicts."""
    output = _output(output, (".html", ".htm"), "--analyze")
    run = open_run(run_dir)
    reading = Prefetch(run.metrics_path)
    from trainforge._fileio import atomic_write_text
    from trainforge.monitor._report import analyze as _analyze

    page, judged = _analyze(run, reading)
    atomic_write_text(output, page)
    return judged


def compare(runs: list[str | Path], output: str | Path) -> str:
    """Overlaid curves of ``runs`` as HTML (with the config differences) or PNG; returns the
    differences as text."""
    from trainforge._fileio import atomic_write_text
    from trainforge.monitor import _plots
    from trainforge.monitor._compare import compare as _compare
    from trainforge.monitor._compare import compare_html, differences_text

    output = _output(output, (".html", ".htm", ".png"), "--compare")
    figure, folders, diffs = _compare([Path(r) for r in runs])
    if output.suffix.lower() == ".png":
        _plots.save_png(figure, output)
    else:
        atomic_write_text(output, compare_html(figure, folders, diffs))
    return differences_text(folders, diffs)


def _output(output: str | Path, suffixes: tuple[str, ...], mode: str) -> Path:
    path = Path(output)
    if path.suffix.lower() not in suffixes:
        raise UsageError(
            f"{mode} writes {' or '.join(suffixes)}; got --output {path} (use e.g. "
            f"{path.with_suffix(suffixes[0]).name})"
        )
    if path.is_dir():
        raise UsageError(
            f"--output {path} is a folder; name a file such as {path / ('report' + suffixes[0])}"
        )
    if not path.parent.exists():
        raise UsageError(f"--output folder {path.parent} does not exist; create it first")
    return path
