"""Device choice and mixed precision (autocast + grad scaler)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from trainforge.config import precision_mode
from trainforge.errors import ConfigError


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is a user error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(f"unknown device {requested!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {requested!r} asked for but CUDA is not available here; "
                "use --device cpu (or auto)"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {requested!r} does not exist: {torch.cuda.device_count()} GPU(s) here"
            )
    elif device.type not in ("cpu", "mps"):
        raise ConfigError(f"unsupported device {requested!r}; use auto, cpu, cuda or cuda:N")
    return device


class Precision:
    """What ``training.mixed_precision`` means on this device, and the tools that go with it."""

    def __init__(self, setting: bool | str, device: torch.device) -> None:
        self.device = device
        self.mode = precision_mode(setting, device.type)
        if self.mode == "fp16" and device.type != "cuda":
            raise ConfigError(
                "training.mixed_precision: fp16 needs a CUDA device; use bf16 on CPU "
                "(or mixed_precision: true, which picks bf16 there)"
            )
        self.dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.mode)
        self.scaler: Any = torch.amp.GradScaler("cuda") if self.mode == "fp16" else None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.dtype):
            yield

    def notice(self) -> str | None:
        if self.mode == "bf16" and self.device.type == "cpu":
            return (
                "bf16 autocast on CPU: many CPUs run it slower than fp32; compare the "
                "samples/s in the log with a run without mixed_precision"
            )
        if self.mode == "fp16":
            return "fp16 autocast with dynamic loss scaling (GradScaler)"
        return None

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
