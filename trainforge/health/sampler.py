"""Resource sampling off the training thread: process and system CPU and memory, and GPUs.

A daemon thread takes a sample every ``interval_s`` seconds into a bounded buffer; the training
thread drains it when it next logs (:class:`~trainforge.health.live.HealthMonitor`), so log
files are only ever written from one thread.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any

import psutil


class GpuProbe:
    """NVML through nvidia-ml-py; empty when the library, the driver or a GPU is missing."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded
            return
        self._nvml = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError:
            self._handles = []

    def sample(self) -> list[dict[str, Any]]:
        nvml, out = self._nvml, []
        for index, handle in enumerate(self._handles):
            gpu: dict[str, Any] = {"index": index}
            for key, read in (
                ("utilization", lambda h: nvml.nvmlDeviceGetUtilizationRates(h).gpu),
                ("memory_used_mb", lambda h: nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20),
                ("memory_total_mb", lambda h: nvml.nvmlDeviceGetMemoryInfo(h).total / 2**20),
                ("temperature_c", lambda h: nvml.nvmlDeviceGetTemperature(h, 0)),
                ("power_w", lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
            ):
                try:
                    gpu[key] = float(read(handle))
                except nvml.NVMLError:  # a field this GPU does not report (power on some)
                    continue
            out.append(gpu)
        return out

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
            self._nvml = None


def sample_resources(process: psutil.Process, gpus: GpuProbe | None) -> dict[str, Any]:
    """One ``resources`` record (without step): CPU %, memory, and each GPU."""
    memory = process.memory_info()
    record: dict[str, Any] = {
        "type": "resources",
        "time": time.time(),
        "cpu_percent": process.cpu_percent(None),
        "system_cpu_percent": psutil.cpu_percent(None),
        "rss_mb": memory.rss / 2**20,
        "system_memory_percent": psutil.virtual_memory().percent,
    }
    if gpus is not None:
        found = gpus.sample()
        if found:
            record["gpus"] = found
    return record


class ResourceSampler:
    """Samples every ``interval_s`` seconds on a daemon thread; :meth:`drain` hands them over."""

    def __init__(self, interval_s: float, *, gpu: bool) -> None:
        self.interval_s = interval_s
        self._want_gpu = gpu
        self._buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="trainforge-resources", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        process = psutil.Process()
        gpus = GpuProbe() if self._want_gpu else None
        try:
            process.cpu_percent(None)  # the first call only starts the measurement
            psutil.cpu_percent(None)
            while not self._stop.wait(self.interval_s):
                self._buffer.append(sample_resources(process, gpus))
        except psutil.Error:
            return  # sampling is best effort; training goes on without it
        finally:
            if gpus is not None:
                gpus.close()

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self._buffer.popleft())
            except IndexError:
                return out

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
