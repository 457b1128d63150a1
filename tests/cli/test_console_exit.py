"""The console entry points end the process without module teardown, but as an ordinary exit
would otherwise: exit code, non-daemon threads, atexit handlers, flushed output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SNIPPET = """
import atexit, sys, threading, time
from pathlib import Path
from trainforge.cli._exit import exit_now

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))

def late() -> None:
    time.sleep(0.3)
    (out / "thread").write_text("joined")

threading.Thread(target=late).start()
sys.stdout.write("buffered, no newline")
exit_now(3)
"""


def test_exit_now_keeps_what_an_ordinary_exit_does(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"


def test_python_m_trainforge_exits_with_the_commands_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trainforge", "config", "validate", str(tmp_path / "none.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "none.yaml" in done.stderr
    assert "Traceback" not in done.stderr
