"""Alerts as JSON POSTs to a webhook, sent by a background thread with a short timeout.

Training never waits for the network: :meth:`WebhookSender.send` only queues (and drops when
the queue is full); failures are collected for the training thread to report.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from trainforge.logging import encode_record

_STOP = object()


class WebhookSender:
    def __init__(self, url: str, timeout_s: float, *, capacity: int = 100) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="trainforge-webhook", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1

    def errors(self) -> list[str]:
        """Failures since the last call (for the training thread to log)."""
        with self._lock:
            out, self._errors = self._errors, []
        return out

    def _run(self) -> None:
        import urllib.error
        import urllib.request

        while True:
            payload = self._queue.get()
            if payload is _STOP:
                return
            body = encode_record(payload).encode()
            request = urllib.request.Request(
                self.url,
                data=body,
                headers={"Content-Type": "application/json", "User-Agent": "trainforge"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read(1024)
                self.sent += 1
            except (urllib.error.URLError, OSError, ValueError) as exc:  # timeouts are OSErrors
                with self._lock:
                    self._errors.append(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Let queued alerts go out, waiting at most about one timeout for them."""
        try:
            self._queue.put(_STOP, timeout=self.timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout=self.timeout_s + 0.5)
