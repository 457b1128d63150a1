"""``--watch``: a live terminal view of a run, redrawn every ``--refresh`` seconds.

Each refresh reads only the bytes appended to metrics.json and alerts.jsonl since the last
one (a torn last line waits for the next refresh). The view ends by itself once
metadata.json says the run completed, failed or stopped, after drawing that final state.
Without a terminal it prints plain-text frames instead of redrawing.
"""

from __future__ import annotations

import collections
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from trainforge.errors import LogError
from trainforge.logging import format_number, read_jsonl_from, schema
from trainforge.monitor._run import FINISHED, log_dir_run, read_metadata

_BARS = "▁▂▃▄▅▆▇█"
_HISTORY = 60


def sparkline(values: list[float], width: int = _HISTORY) -> str:
    """``▁▃▅█``-style line of the last ``width`` finite values (``·`` for non-finite)."""
    values = values[-width:]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return "".join(
        _BARS[int((v - low) / span * (len(_BARS) - 1))] if math.isfinite(v) else "·" for v in values
    )


class WatchState:
    """What the view shows, updated from the lines appended since the last refresh."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.run_dir = log_dir_run(log_dir)
        self.metrics_path = log_dir / "metrics.json"
        self.alerts_path = log_dir / "alerts.jsonl"
        self._offsets = {"metrics": 0, "alerts": 0}
        self.records = 0
        self.metadata: dict[str, Any] = {}
        self.step: dict[str, Any] = {}
        self.validation: dict[str, float] = {}
        self.epoch_end_steps: list[int] = []
        self.epoch = 0
        self.epochs_total: int | None = None
        self.history: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=_HISTORY)
        )
        self.resources: dict[str, Any] = {}
        self.alerts: collections.deque[dict[str, Any]] = collections.deque(maxlen=5)
        self._rate_start: tuple[float, float] | None = None

    def refresh(self) -> None:
        if not self.metrics_path.exists():
            raise LogError(
                f"no metrics log in {self.log_dir}; pass a run's logs folder (--log_dir RUN/logs)"
            )
        records, self._offsets["metrics"] = read_jsonl_from(
            self.metrics_path, self._offsets["metrics"]
        )
        for record in records:
            self._apply(record)
        if self.alerts_path.exists():
            alerts, self._offsets["alerts"] = read_jsonl_from(
                self.alerts_path, self._offsets["alerts"]
            )
            self.alerts.extend(alerts)
        self.metadata = read_metadata(self.run_dir)
        if self.epochs_total is None:
            self.epochs_total = _configured_epochs(self.run_dir)

    def _apply(self, record: dict[str, Any]) -> None:
        self.records += 1
        kind = record.get("type")
        if kind == schema.STEP:
            self.step = record
            for key in ("loss", "lr", "grad_norm", "data_wait"):
                if isinstance(record.get(key), (int, float)):
                    self.history[key].append(float(record[key]))
            now = (float(record.get("time") or 0), float(record.get("step") or 0))
            if self._rate_start is None:
                self._rate_start = now
            self._rate_end = now
            self.epoch = int(record.get("epoch") or self.epoch)
        elif kind == schema.VALIDATION:
            metrics = record.get("metrics") or {}
            self.validation = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
            for key in ("val_loss", "val_accuracy"):
                if key in self.validation:
                    self.history[key].append(float(self.validation[key]))
        elif kind == schema.EPOCH:
            self.epoch = int(record.get("epoch") or self.epoch)
            if isinstance(record.get("step"), int):
                self.epoch_end_steps.append(record["step"])
        elif kind == schema.RESOURCES:
            self.resources = record
        elif kind == schema.EVENT and record.get("event") in ("start", "resume"):
            self._rate_start = None  # a resumed run's speed starts over

    @property
    def finished(self) -> bool:
        return self.metadata.get("status") in FINISHED

    def progress(self) -> tuple[int, int | None, float | None]:
        """(global step, total steps if known, seconds left if known)."""
        step = max(int(self.step.get("step") or 0), (self.epoch_end_steps[-1:] or [0])[0])
        ends = self.epoch_end_steps
        per_epoch = ends[-1] - ends[-2] if len(ends) >= 2 else (ends[0] if ends else None)
        total = per_epoch * self.epochs_total if per_epoch and self.epochs_total else None
        eta = None
        if total and self._rate_start is not None:
            (t0, s0), (t1, s1) = self._rate_start, self._rate_end
            if t1 > t0 and s1 > s0:
                eta = max(0.0, (total - step) / ((s1 - s0) / (t1 - t0)))
        return step, total, eta

    # ------------------------------------------------------------------ rendering
    def lines(self) -> list[tuple[str, str]]:
        """(label, text) rows shared by the plain and the rich view."""
        step, total, eta = self.progress()
        status = str(self.metadata.get("status") or "unknown")
        if self.metadata.get("stop_reason"):
            status += f" ({self.metadata['stop_reason']})"
        epochs = f"{self.epoch}/{self.epochs_total}" if self.epochs_total else str(self.epoch)
        where = f"epoch {epochs}  step {step}" + (f"/{total}" if total else "")
        if total:
            where += f"  {100 * min(step / total, 1):.0f}%"
        if eta is not None and not self.finished:
            where += f"  ETA {_duration(eta)}"
        rows = [("run", str(self.run_dir)), ("status", status), ("progress", where)]
        latest: dict[str, Any] = {
            k: self.step[k]
            for k in ("loss", "lr", "grad_norm", "samples_per_sec")
            if k in self.step
        }
        if latest:
            rows.append(("last step", _pairs(latest)))
        if self.validation:
            rows.append(("validation", _pairs(self.validation)))
        for key in ("loss", "val_loss", "val_accuracy", "lr", "grad_norm"):
            if self.history.get(key):
                rows.append(
                    (
                        key,
                        f"{sparkline(list(self.history[key]))} "
                        f"{format_number(self.history[key][-1])}",
                    )
                )
        if self.resources:
            rows.append(("resources", _resources(self.resources)))
        for alert in self.alerts:
            rows.append(
                (
                    f"alert {alert.get('level', '')}",
                    f"step {alert.get('step')}: [{alert.get('rule')}] {alert.get('message', '')}",
                )
            )
        if not self.records:
            rows.append(("", "waiting for the first record"))
        return rows

    def text(self) -> str:
        width = max(len(label) for label, _ in self.lines())
        return "\n".join(f"{label:>{width}}  {text}" for label, text in self.lines())

    def rich(self) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column()
        for label, text in self.lines():
            style = (
                "red"
                if label.startswith("alert error")
                else ("yellow" if label.startswith("alert") else None)
            )
            table.add_row(label, text, style=style)
        return Panel(table, title="trainforge monitor", subtitle=time.strftime("%H:%M:%S"))


def _pairs(values: dict[str, Any]) -> str:
    return "  ".join(f"{k} {format_number(v)}" for k, v in values.items())


def _resources(record: dict[str, Any]) -> str:
    parts = []
    if isinstance(record.get("cpu_percent"), (int, float)):
        parts.append(f"cpu {record['cpu_percent']:.0f}%")
    if isinstance(record.get("rss_mb"), (int, float)):
        parts.append(f"rss {record['rss_mb']:.0f} MB")
    for gpu in record.get("gpus") or []:
        util = gpu.get("utilization")
        mem = gpu.get("memory_used_mb")
        parts.append(
            f"gpu{gpu.get('index')} {util:.0f}% {mem:.0f} MB"
            if isinstance(util, (int, float)) and isinstance(mem, (int, float))
            else f"gpu{gpu.get('index')}"
        )
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _configured_epochs(run_dir: Path) -> int | None:
    import yaml

    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        epochs = (config.get("training") or {}).get("epochs")
    except (OSError, AttributeError, yaml.YAMLError):
        return None
    return epochs if isinstance(epochs, int) else None


def watch(
    log_dir: Path, refresh: float, *, once: bool = False, stream: TextIO | None = None
) -> int:
    """Draw until the run finishes (or Ctrl-C); returns the exit code."""
    stream = stream or sys.stdout
    if not log_dir.is_dir():
        raise LogError(f"no log folder at {log_dir}; pass a run's logs folder (RUN/logs)")
    state = WatchState(log_dir)
    state.refresh()
    if once:
        print(state.text(), file=stream, flush=True)
        return 0
    try:
        if stream.isatty():
            _watch_live(state, refresh, stream)
        else:
            while True:
                print(state.text(), file=stream, flush=True)
                if state.finished:
                    break
                time.sleep(refresh)
                state.refresh()
                print("-" * 40, file=stream, flush=True)
    except KeyboardInterrupt:
        return 0
    return 0


def _watch_live(state: WatchState, refresh: float, stream: TextIO) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)
    with Live(state.rich(), console=console, auto_refresh=False) as live:
        while not state.finished:
            time.sleep(refresh)
            state.refresh()
            live.update(state.rich(), refresh=True)
