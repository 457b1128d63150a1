"""SPEC.md's training_monitor.py command lines, verbatim, and the CLI's one-line errors."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "SPEC.md"
MONITOR = str(ROOT / "training_monitor.py")

# As SPEC.md shows them (its "training_monitor.py" section and Workflow 1, steps 3-4).
FALLBACK = [
    "python training_monitor.py --watch --log_dir train_run_001/logs --refresh 30",
    "python training_monitor.py --analyze --checkpoint_dir train_run_001 --output diagnostics.html",
    "python training_monitor.py --plot_curves --log_file train_run_001/logs/metrics.json "
    "--output curves.png",
    "python training_monitor.py --watch --log_dir run_001/logs",
    "python training_monitor.py --analyze --checkpoint_dir run_001 --output report.html",
]


def spec_commands() -> list[str]:
    if not SPEC.exists():
        return FALLBACK
    found = re.findall(r"^python training_monitor\.py .*$", SPEC.read_text(), re.M)
    assert len(found) >= 5, found
    return found


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # stdin/stdout are pipes: no terminal, as under nohup or CI
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_spec_commands_verbatim(healthy_run: Path, tmp_path: Path) -> None:
    for name in ("train_run_001", "run_001"):
        shutil.copytree(healthy_run, tmp_path / name)
    for line in spec_commands():
        argv = shlex.split(line)
        assert argv[:2] == ["python", "training_monitor.py"]
        started = time.monotonic()
        done = run([MONITOR, *argv[2:]], tmp_path)
        assert done.returncode == 0, (line, done.stderr)
        assert "Traceback" not in done.stderr
        if "--watch" in argv:
            # a finished run: one final frame, then exit (not a 30 s refresh)
            assert time.monotonic() - started < 60
            assert "completed" in done.stdout and "val_accuracy" in done.stdout
    assert (tmp_path / "diagnostics.html").stat().st_size > 10_000
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_trainforge_monitor_is_the_same_tool(healthy_run: Path, tmp_path: Path) -> None:
    done = run(
        [
            "-m",
            "trainforge",
            "monitor",
            "--plot-curves",
            "--log-file",
            str(healthy_run / "logs" / "metrics.json"),
            "--output",
            "c.png",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "curves: c.png" in done.stdout


def test_watch_once_and_watch_a_run_folder(healthy_run: Path, tmp_path: Path) -> None:
    done = run([MONITOR, "--watch", "--log_dir", str(healthy_run), "--once"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "epoch 6/6" in done.stdout and "loss" in done.stdout


@pytest.mark.timeout(180)
def test_watch_follows_a_growing_log_until_the_run_ends(healthy_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "live"
    shutil.copytree(healthy_run, run_dir)
    metrics = run_dir / "logs" / "metrics.json"
    lines = metrics.read_bytes().splitlines(keepends=True)
    metrics.write_bytes(b"".join(lines[:10]))
    meta = run_dir / "metadata.json"
    finished = meta.read_text()
    meta.write_text(finished.replace('"completed"', '"running"'))
    proc = subprocess.Popen(
        [
            sys.executable,
            MONITOR,
            "--watch",
            "--log_dir",
            str(run_dir / "logs"),
            "--refresh",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = []
        while not any("status" in line for line in first):  # the first frame is drawn
            first.append(proc.stdout.readline())
            assert first[-1], "watch ended before drawing a frame"
        time.sleep(1)
        assert proc.poll() is None  # still watching a running run
        with metrics.open("ab") as f:
            f.write(b"".join(lines[10:]))
        meta.write_text(finished)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "running" in "".join(first)
    frames = out.split("-" * 40)
    assert "completed" in frames[-1] and "epoch 6/6" in frames[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--analyze", "--checkpoint_dir", "nowhere"], "no run folder at nowhere"),
        (["--plot_curves", "--log_file", "nowhere.json"], "no metrics log at nowhere.json"),
        (["--watch", "--log_dir", "nowhere"], "no log folder at nowhere"),
        (["--analyze"], "--analyze needs --checkpoint_dir RUN"),
        (["--plot_curves", "--log_file", "x.json", "--output", "c.jpg"], "writes .png"),
        (["--watch", "--analyze"], "not allowed with argument"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run([MONITOR, *args], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.timeout(180)
def test_watch_on_a_terminal_draws_the_rich_panel_and_returns(healthy_run: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, MONITOR, "--watch", "--log_dir", str(healthy_run / "logs")],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the watcher exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "trainforge monitor" in screen and "completed" in screen and "╭" in screen
