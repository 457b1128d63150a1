"""The metrics-log format, owned here: record types, their fields, and the version check.

``logs/metrics.json`` is JSON Lines; every record has ``type``, ``schema_version`` and
``time`` (Unix seconds). The writer (:class:`~trainforge.logging.JsonlSink`) stamps them; every
reader (monitor, tuner, evaluate, verify-resume) calls :func:`check_record` so a log written by
a newer, incompatible trainforge is refused with one clear line instead of misread.

Record types and the fields readers rely on:

- ``step``: ``step``, ``epoch``, ``loss``, ``lr``, ``grad_norm``, ``samples_per_sec``,
  ``data_wait`` (fraction of the logging window spent waiting for data).
- ``validation``: ``step``, ``epoch``, ``metrics`` ({``val_loss``: ..., ...}),
  optional ``confusion_matrix`` and ``in_epoch``.
- ``epoch``: ``step``, ``epoch``, ``metrics`` (train and val), ``samples_per_sec``, ``duration``.
- ``event``: ``event`` (start, resume, checkpoint, early_stop, end, ...) and its details.
- ``resources``: ``cpu_percent``, ``rss_mb``, ``system_memory_percent`` and, with a GPU,
  ``gpus``: [{``index``, ``utilization``, ``memory_used_mb``, ``memory_total_mb``,
  ``temperature_c``, ``power_w``}].
- ``alert`` (in ``alerts.jsonl``): ``rule``, ``level``, ``message``, ``step``, ``epoch``,
  ``evidence``, ``fix``.
"""

from __future__ import annotations

from typing import Any

from trainforge.errors import LogError

SCHEMA_VERSION = 1

STEP = "step"
VALIDATION = "validation"
EPOCH = "epoch"
EVENT = "event"
RESOURCES = "resources"
ALERT = "alert"
RECORD_TYPES = (STEP, VALIDATION, EPOCH, EVENT, RESOURCES, ALERT)

# The numbers of a step record, in the order readers tabulate them.
STEP_FIELDS = ("step", "epoch", "time", "loss", "lr", "grad_norm", "samples_per_sec", "data_wait")


def check_version(version: Any, source: str) -> None:
    """Refuse a log written in a newer format than this trainforge reads."""
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise LogError(
            f"{source} has schema_version {version}, newer than this trainforge reads "
            f"({SCHEMA_VERSION}); upgrade trainforge to read it"
        )


def check_record(record: dict[str, Any], source: str) -> dict[str, Any]:
    """``record`` itself after :func:`check_version`; records without a version are read as 1."""
    check_version(record.get("schema_version"), source)
    return record
