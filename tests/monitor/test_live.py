"""The live health monitor on real log files: alerts to alerts.jsonl, train.log and a webhook
(a local HTTP server, and one that hangs), resource records from the sampler thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trainforge.config.monitoring import MonitoringConfig
from trainforge.config.schema import LoggingConfig
from trainforge.health import HealthMonitor, RunFacts
from trainforge.logging import build_sinks, read_jsonl


class Server:
    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[dict[str, Any]] = []
        self.delay = delay
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.delay:
                    time.sleep(owner.delay)
                owner.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def hanging_server() -> Iterator[Server]:
    s = Server(delay=30.0)
    yield s
    s.close()


def open_logs(tmp_path: Path, **monitoring: Any) -> tuple[Any, HealthMonitor]:
    loggers = build_sinks(
        LoggingConfig(tensorboard=False),
        run_dir=tmp_path,
        log_dir=tmp_path / "logs",
        run_name="t",
        config_dict={},
    )
    cfg = MonitoringConfig.model_validate(monitoring)
    monitor = HealthMonitor(cfg, RunFacts(), loggers)
    loggers.extra.append(monitor)
    return loggers, monitor


def log_steps(loggers: Any, norms: list[float]) -> None:
    for i, norm in enumerate(norms, start=1):
        loggers.log(
            {
                "type": "step",
                "step": i,
                "epoch": 1,
                "loss": 1.0,
                "lr": 0.1,
                "grad_norm": norm,
                "data_wait": 0.0,
            }
        )


def test_an_exploding_gradient_is_alerted_everywhere(tmp_path: Path, server: Server) -> None:
    loggers, monitor = open_logs(tmp_path, alerts={"webhook_url": server.url})
    log_steps(loggers, [1.0] * 25 + [200.0])
    monitor.check()  # the throttle may have skipped the last record's evaluation
    loggers.close()
    [alert] = read_jsonl(tmp_path / "logs" / "alerts.jsonl")
    assert alert["rule"] == "exploding_gradients" and alert["step"] == 26
    assert alert["level"] == "warning" and alert["evidence"]["grad_norm"] == 200.0
    assert "gradient_clip" in alert["fix"]
    assert "[exploding_gradients]" in (tmp_path / "logs" / "train.log").read_text()
    [posted] = server.received
    assert posted["rule"] == "exploding_gradients" and posted["step"] == 26


def test_trainer_alerts_reach_the_webhook_too(tmp_path: Path, server: Server) -> None:
    loggers, _ = open_logs(tmp_path, alerts={"webhook_url": server.url})
    loggers.alert("nonfinite", "non-finite loss at step 3", level="error", step=3, epoch=1)
    loggers.close()
    assert [p["rule"] for p in server.received] == ["nonfinite"]


def test_a_hanging_webhook_never_stalls_training(tmp_path: Path, hanging_server: Server) -> None:
    loggers, monitor = open_logs(
        tmp_path, alerts={"webhook_url": hanging_server.url, "webhook_timeout_s": 0.5}
    )
    started = time.monotonic()
    for i in range(20):
        loggers.alert("test", f"alert {i}", step=i)
    logged = time.monotonic() - started
    log_steps(loggers, [1.0] * 30)
    loggers.close()  # waits about one timeout for the queue, not 20 x 30 s
    total = time.monotonic() - started
    assert logged < 0.5, logged
    assert total < 5.0, total
    assert "alert webhook" in (tmp_path / "logs" / "train.log").read_text()
    assert monitor.webhook is not None and monitor.webhook.sent == 0


def test_an_unreachable_webhook_is_reported_once_in_train_log(tmp_path: Path) -> None:
    loggers, _ = open_logs(tmp_path, alerts={"webhook_url": "http://127.0.0.1:9/nothing"})
    loggers.alert("test", "one alert", step=1)
    loggers.close()
    text = (tmp_path / "logs" / "train.log").read_text()
    assert text.count("alert webhook http://127.0.0.1:9/nothing failed") == 1


def test_resource_records_come_from_the_sampler_thread(tmp_path: Path) -> None:
    loggers, _ = open_logs(tmp_path, resource_interval_s=0.05)
    deadline = time.monotonic() + 10
    i = 0
    while time.monotonic() < deadline:
        i += 1
        log_steps(loggers, [1.0])
        time.sleep(0.02)
        records = read_jsonl(tmp_path / "logs" / "metrics.json")
        if sum(r["type"] == "resources" for r in records) >= 3:
            break
    loggers.close()
    resources = [
        r for r in read_jsonl(tmp_path / "logs" / "metrics.json") if r["type"] == "resources"
    ]
    assert len(resources) >= 3
    first = resources[0]
    assert first["schema_version"] == 1 and first["rss_mb"] > 1 and "cpu_percent" in first
    assert "gpus" not in first  # no GPU on this machine: NVML is never asked
    assert all(isinstance(r["step"], int) for r in resources)


def test_resource_interval_zero_turns_the_sampler_off(tmp_path: Path) -> None:
    loggers, monitor = open_logs(tmp_path, resource_interval_s=0)
    log_steps(loggers, [1.0] * 3)
    loggers.close()
    assert monitor.sampler._thread is None
    types = {r["type"] for r in read_jsonl(tmp_path / "logs" / "metrics.json")}
    assert types == {"step"}


def test_webhook_url_must_be_http() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="http:// or https://"):
        MonitoringConfig.model_validate({"alerts": {"webhook_url": "file:///etc/passwd"}})


def test_a_resumed_run_does_not_repeat_its_alerts(tmp_path: Path) -> None:
    from trainforge.config import TrainConfig

    loggers, monitor = open_logs(tmp_path)
    log_steps(loggers, [1.0] * 25 + [200.0])
    monitor.check()
    loggers.close()
    assert len(read_jsonl(tmp_path / "logs" / "alerts.jsonl")) == 1
    # The same folder, reopened as a resume does: history and raised alerts are read back.
    again = build_sinks(
        LoggingConfig(tensorboard=False),
        run_dir=tmp_path,
        log_dir=tmp_path / "logs",
        run_name="t",
        config_dict={},
    )
    resumed = HealthMonitor.for_run(TrainConfig(), again, tmp_path / "logs", gpu=False)
    again.extra.append(resumed)
    for i in range(27, 60):
        again.log(
            {
                "type": "step",
                "step": i,
                "epoch": 1,
                "loss": 1.0,
                "lr": 0.1,
                "grad_norm": 500.0 if i == 50 else 1.0,
                "data_wait": 0.0,
            }
        )
    resumed.check()
    again.close()
    found = read_jsonl(tmp_path / "logs" / "alerts.jsonl")
    assert [(a["rule"], a["step"]) for a in found] == [
        ("exploding_gradients", 26),
        ("exploding_gradients", 50),
    ]


def test_a_rollback_drops_the_rewound_records_from_the_live_series(tmp_path: Path) -> None:
    from trainforge.health import Series

    loggers, monitor = open_logs(tmp_path, resource_interval_s=0)
    log_steps(loggers, [1.0] * 20)
    loggers.log({"type": "epoch", "step": 20, "epoch": 1, "metrics": {"train_loss": 1.0}})
    checkpoint = loggers.positions()
    # Steps 21-25 diverge; the trainer rewinds to the step-20 checkpoint and redoes them.
    for step in range(21, 26):
        loggers.log({"type": "step", "step": step, "epoch": 2, "loss": 1e6, "grad_norm": 1e-9})
    loggers.log({"type": "validation", "step": 25, "epoch": 2, "metrics": {"val_loss": 9.0}})
    loggers.rewind(checkpoint)
    for step in range(21, 31):
        loggers.log({"type": "step", "step": step, "epoch": 2, "loss": 0.9, "grad_norm": 1.0})
    live = monitor.builder.build()
    loggers.close()
    on_disk = Series.from_records(read_jsonl(tmp_path / "logs" / "metrics.json"))
    assert list(live.steps["step"]) == list(range(1, 31))
    assert max(live.steps["loss"]) == 1.0 and not live.validations
    for name in ("steps", "validations", "epochs"):
        left, right = getattr(live, name), getattr(on_disk, name)
        assert set(left) == set(right), name
        for key in left:
            np.testing.assert_array_equal(left[key], right[key], err_msg=f"{name}.{key}")
