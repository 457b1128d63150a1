"""How a distributed run ends badly: a signal to the launcher, a config error in the workers."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from ddp_helpers import command, env, records, run, write_config


def test_sigterm_to_the_launcher_stops_every_rank(tmp_path: Path) -> None:
    write_config(tmp_path, epochs=50, batch_size=16)
    proc = subprocess.Popen(
        command("--distributed", "--n_gpus", "2", "--output", "run"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 120
        while not any(r["type"] == "step" for r in records(tmp_path / "run")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["stop_reason"] == "signal:SIGTERM"
    assert (tmp_path / "run" / "checkpoints" / "last.pth").exists()


def test_config_error_in_the_workers_is_one_line(tmp_path: Path) -> None:
    # Only known once the data is built (inside the workers): no val_mse for classification.
    write_config(tmp_path, extra="checkpointing:\n  monitor: val_mse\n")
    done = run(tmp_path, "--distributed", "--n_gpus", "2", "--output", "run")
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "val_mse" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def test_flags_without_distributed_are_a_usage_error(tmp_path: Path) -> None:
    write_config(tmp_path)
    done = run(tmp_path, "--n_gpus", "2")
    assert done.returncode == 2 and "need --distributed" in done.stderr
