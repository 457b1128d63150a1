"""TensorBoard event files under ``logs/tensorboard/``."""

from __future__ import annotations

import os
from typing import Any

from trainforge.errors import ConfigError
from trainforge.logging._base import tracker_scalars


class TensorBoardSink:
    """Scalars per the logging contract; ``purge_step`` hides events a resume re-does.

    On resume from a checkpoint at step S, pass ``purge_step=S + 1``: TensorBoard's reader then
    discards the old run's events from that step on, so the curves have no duplicate steps.
    """

    name = "tensorboard"

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        purge_step: int | None = None,
        flush_secs: int = 5,
    ) -> None:
        try:
            # Imported here: it pulls in tensorboard and protobuf, which cost startup time.
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError(
                "logging.tensorboard is true but tensorboard cannot be imported "
                f"({exc}); pip install tensorboard or set logging.tensorboard: false"
            ) from None
        self.log_dir = os.fspath(log_dir)
        self._writer: Any = SummaryWriter(
            log_dir=self.log_dir, purge_step=purge_step, flush_secs=flush_secs
        )

    def log(self, record: dict[str, Any]) -> None:
        if self._writer is None:
            raise ValueError(f"TensorBoard sink for {self.log_dir} is closed")
        scalars = tracker_scalars(record)
        if scalars is None:
            return
        step, values = scalars
        walltime = record.get("time")
        for tag, value in values.items():
            self._writer.add_scalar(tag, value, global_step=step, walltime=walltime)

    def flush(self) -> None:
        """Write buffered events now: a checkpoint must not outlive the events before it."""
        if self._writer is not None:
            self._writer.flush()

    def purge_from(self, step: int) -> None:
        """Hide this run's events from ``step`` on (a rollback re-does those steps).

        A session-start event at ``step`` is what ``purge_step`` writes at construction;
        TensorBoard's reader drops every earlier-written event at or after that step.
        """
        if self._writer is None:
            return
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        # SummaryWriter has no public way to add a raw event; its file writer does.
        writer = self._writer._get_file_writer()
        writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.START)))
        writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
