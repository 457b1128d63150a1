"""All of a run's logs behind one object: what the trainer talks to."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from trainforge.config.schema import LoggingConfig
from trainforge.logging._base import Sink, StatefulSink, is_number
from trainforge.logging._jsonl import AlertSink, JsonlSink
from trainforge.logging._text import TextLog

METRICS_FILE = "metrics.json"
TEXT_FILE = "train.log"
ALERTS_FILE = "alerts.jsonl"
TENSORBOARD_DIR = "tensorboard"


class Loggers:
    """metrics.json + train.log + alerts.jsonl, plus any trackers the config enables.

    The three files are the run's record and their failures propagate. A tracker (TensorBoard,
    W&B, MLflow) failing mid-run is reported in train.log and dropped instead: losing a plot
    must not kill a long training run.
    """

    def __init__(
        self, metrics: JsonlSink, alerts: AlertSink, text: TextLog, extra: list[Sink]
    ) -> None:
        self.metrics = metrics
        self.alerts = alerts
        self.text = text
        self.extra = list(extra)
        self.last_step: int | None = None
        self._closed = False

    def log(self, record: dict[str, Any]) -> None:
        # One timestamp for every sink, so the JSON, text and tracker copies agree.
        record = {**record, "time": record.get("time", time.time())}
        if is_number(record.get("step")):
            self.last_step = max(int(record["step"]), self.last_step or 0)
        self.metrics.log(record)
        self.text.log(record)
        for sink in list(self.extra):
            try:
                sink.log(record)
            except Exception as exc:
                self._drop(sink, exc)

    def alert(
        self,
        rule: str,
        message: str,
        *,
        level: str = "warning",
        step: int | None = None,
        epoch: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record an anomaly in alerts.jsonl and say it in train.log (and on the console)."""
        record = self.alerts.alert(rule, message, level=level, step=step, epoch=epoch, **fields)
        self.text.log(record)
        # Sinks that forward alerts (the health monitor's webhook) see every one of them.
        for sink in list(self.extra):
            on_alert = getattr(sink, "on_alert", None)
            if callable(on_alert):
                try:
                    on_alert(record)
                except Exception as exc:
                    self._drop(sink, exc)
        return record

    def info(self, message: str) -> None:
        self.text.info(message)

    def warning(self, message: str) -> None:
        self.text.warning(message)

    def positions(self, step: int | None = None) -> dict[str, Any]:
        """What a checkpoint stores to resume these logs without duplicates.

        ``step`` is the checkpoint's global step (default: the last step logged). Log every
        record of step S before saving the checkpoint of step S: on resume, the files are cut
        back to these offsets and TensorBoard hides events from step S + 1 on.
        """
        # Trackers buffer events (TensorBoard for seconds): written out now, a kill after the
        # checkpoint cannot lose records that the resumed run will not log again.
        for sink in list(self.extra):
            flush = getattr(sink, "flush", None)
            if callable(flush):
                try:
                    flush()
                except Exception as exc:
                    self._drop(sink, exc)
        state: dict[str, Any] = {
            "metrics": self.metrics.position(),
            "text": self.text.position(),
            "alerts": self.alerts.position(),
            "step": self.last_step if step is None else int(step),
        }
        for sink in self.extra:
            if isinstance(sink, StatefulSink):
                state[_sink_name(sink)] = sink.state_dict()
        return state

    def rewind(self, positions: dict[str, Any]) -> None:
        """Go back to a checkpoint's :meth:`positions` within this run (nan_policy: rollback).

        metrics.json and train.log lose what was written after the checkpoint, so the steps
        that are redone are not recorded twice; alerts.jsonl keeps everything (the events
        that caused the rollback belong there); TensorBoard hides the later steps.
        """
        if is_number(positions.get("metrics")):
            self.metrics.truncate(int(positions["metrics"]))
        if is_number(positions.get("text")):
            self.text.truncate(int(positions["text"]))
        step = positions.get("step")
        if not is_number(step):
            return
        self.last_step = int(step)
        for sink in list(self.extra):
            purge = getattr(sink, "purge_from", None)
            if callable(purge):
                try:
                    purge(int(step) + 1)
                except Exception as exc:
                    self._drop(sink, exc)

    def _drop(self, sink: Sink, exc: BaseException) -> None:
        self.extra.remove(sink)
        self.text.warning(f"{_sink_name(sink)} logging failed ({exc}); continuing without it")
        # It is already failing; the warning above is what the user needs.
        with contextlib.suppress(Exception):
            sink.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sink in self.extra:
            try:
                sink.close()
            except Exception as exc:
                self.text.warning(f"closing {_sink_name(sink)} logging failed: {exc}")
        self.alerts.close()
        self.metrics.close()
        self.text.close()

    def __enter__(self) -> Loggers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sink_name(sink: object) -> str:
    return str(getattr(sink, "name", type(sink).__name__))


def build_sinks(
    cfg: LoggingConfig,
    *,
    run_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    run_name: str,
    config_dict: dict[str, Any],
    resume: dict[str, Any] | None = None,
    echo: bool = False,
) -> Loggers:
    """Open a run's logs; ``resume`` is :meth:`Loggers.positions` from the checkpoint."""
    log_dir = Path(log_dir)
    resume = resume or {}
    epochs = (config_dict.get("training") or {}).get("epochs")
    opened: list[Any] = []
    try:
        metrics = JsonlSink(log_dir / METRICS_FILE, truncate_at=resume.get("metrics"))
        opened.append(metrics)
        alerts = AlertSink(log_dir / ALERTS_FILE, truncate_at=resume.get("alerts"))
        opened.append(alerts)
        text = TextLog(
            log_dir / TEXT_FILE,
            truncate_at=resume.get("text"),
            echo=echo,
            total_epochs=epochs if isinstance(epochs, int) else None,
        )
        opened.append(text)
        extra = _build_trackers(cfg, run_dir, log_dir, run_name, config_dict, resume, opened)
    except BaseException:
        for sink in reversed(opened):
            sink.close()
        raise
    return Loggers(metrics, alerts, text, extra)


def _build_trackers(
    cfg: LoggingConfig,
    run_dir: str | os.PathLike[str],
    log_dir: Path,
    run_name: str,
    config_dict: dict[str, Any],
    resume: dict[str, Any],
    opened: list[Any],
) -> list[Sink]:
    # Heavy or optional libraries: each backend module imports its library only when enabled.
    extra: list[Sink] = []
    if cfg.tensorboard:
        from trainforge.logging._tensorboard import TensorBoardSink

        step = resume.get("step")
        purge = int(step) + 1 if is_number(step) else None
        extra.append(TensorBoardSink(log_dir / TENSORBOARD_DIR, purge_step=purge))
        opened.append(extra[-1])
    if cfg.wandb.enabled:
        from trainforge.logging._wandb import WandbSink

        stored = resume.get("wandb") or {}
        extra.append(
            WandbSink(cfg.wandb, run_dir, run_name, config_dict, resume_id=stored.get("run_id"))
        )
        opened.append(extra[-1])
    if cfg.mlflow.enabled:
        from trainforge.logging._mlflow import MlflowSink

        stored = resume.get("mlflow") or {}
        extra.append(
            MlflowSink(cfg.mlflow, run_dir, run_name, config_dict, resume_id=stored.get("run_id"))
        )
        opened.append(extra[-1])
    return extra
