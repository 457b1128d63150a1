"""Where a run's records go: metrics.json, train.log, alerts.jsonl and optional trackers.

Every backend is a small sink (``log(record)``, ``close()``); :func:`build_sinks` opens the
ones a config asks for and returns :class:`Loggers`, the one object the trainer logs to.
Readers (the monitor) use :func:`read_jsonl` / :func:`read_jsonl_from`.
"""

from typing import TYPE_CHECKING

from trainforge._lazy import lazy_exports
from trainforge.logging._base import Sink, StatefulSink, tracker_scalars
from trainforge.logging._jsonl import (
    ALERT_LEVELS,
    SCHEMA_VERSION,
    AlertSink,
    JsonlSink,
    decode_line,
    encode_record,
    read_jsonl,
    read_jsonl_from,
)
from trainforge.logging._text import TextLog, format_number, format_record

if TYPE_CHECKING:
    from trainforge.logging._loggers import (
        ALERTS_FILE,
        METRICS_FILE,
        TENSORBOARD_DIR,
        TEXT_FILE,
        Loggers,
        build_sinks,
    )
    from trainforge.logging._mlflow import MlflowSink
    from trainforge.logging._tensorboard import TensorBoardSink
    from trainforge.logging._wandb import WandbSink

# The writers import the config schema (pydantic, ~0.3 s); a reader of logs (the monitor)
# needs none of it, so they are imported on first use.
_LAZY = {
    "ALERTS_FILE": "._loggers",
    "METRICS_FILE": "._loggers",
    "TENSORBOARD_DIR": "._loggers",
    "TEXT_FILE": "._loggers",
    "Loggers": "._loggers",
    "build_sinks": "._loggers",
    "MlflowSink": "._mlflow",
    "TensorBoardSink": "._tensorboard",
    "WandbSink": "._wandb",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ALERTS_FILE",
    "ALERT_LEVELS",
    "METRICS_FILE",
    "SCHEMA_VERSION",
    "TENSORBOARD_DIR",
    "TEXT_FILE",
    "AlertSink",
    "JsonlSink",
    "Loggers",
    "MlflowSink",
    "Sink",
    "StatefulSink",
    "TensorBoardSink",
    "TextLog",
    "WandbSink",
    "build_sinks",
    "decode_line",
    "encode_record",
    "format_number",
    "format_record",
    "read_jsonl",
    "read_jsonl_from",
    "tracker_scalars",
]
