"""A throw-away PostgreSQL server for the multi-machine tuning test (Debian's server binaries,
initdb in a temporary folder, listening on 127.0.0.1 only), stopped and removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries are not installed (Debian package `postgresql`)")
    return Path(found[-1]).parent


def _as_server_user(cmd: list[str], folder: Path) -> list[str]:
    """initdb refuses to run as root: run the server as `postgres` then."""
    if os.geteuid() != 0:
        return cmd
    shutil.chown(folder, "postgres")
    return ["su", "postgres", "-c", subprocess.list2cmdline(cmd)]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database; the server stops when the block ends."""
    pytest.importorskip("psycopg2", reason="psycopg2 (the postgres extra) is not installed")
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="trainforge-pg-"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = [str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"]
    subprocess.run(_as_server_user(init, folder), check=True, capture_output=True, timeout=120)
    ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    start = [*ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"]
    try:
        subprocess.run(_as_server_user(start, folder), check=True, capture_output=True, timeout=120)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [*ctl, "-m", "fast", "-w", "stop"]
        subprocess.run(_as_server_user(stop, folder), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
