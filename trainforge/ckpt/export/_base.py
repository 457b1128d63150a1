"""The interface every export format implements, and the shared error wrapping."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from trainforge.errors import ExportError

Output = np.ndarray | torch.Tensor
NetworkFactory = Callable[[], nn.Module]


class Exporter(ABC):
    """One file format: write a model, then load that file in its own runtime and run it.

    ``export`` receives the graph to export (preprocessing + network, or the bare network) in
    eval mode and an example batch of at least 2 rows, so the batch dimension stays dynamic.
    ``load_and_run`` reads the written file the way a deployment would and returns the
    outputs for ``inputs`` (same space as the example), for comparison with PyTorch.
    """

    name: ClassVar[str]
    suffix: ClassVar[str]
    runtime: ClassVar[str]
    """What ``load_and_run`` uses, for the report, e.g. "onnxruntime"."""
    holds_graph: ClassVar[bool] = True
    """False for weight files: they hold the network's tensors only, never the preprocessing."""
    notice: ClassVar[str | None] = None
    """Something the user should know about the format (printed and kept in the sidecar)."""

    @abstractmethod
    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        """Write ``model`` to ``path`` (and companion files); return every file written."""

    @abstractmethod
    def load_and_run(self, path: Path, inputs: torch.Tensor) -> Output:
        """Outputs of the exported file on ``inputs``, computed by the format's runtime."""

    def runtime_version(self) -> str:
        return f"torch {torch.__version__}"


class WeightsExporter(Exporter, ABC):
    """A file of the network's tensors; verified by loading them into a blank copy of it."""

    holds_graph = False

    def __init__(self, blank_network: NetworkFactory) -> None:
        self._blank_network = blank_network

    @abstractmethod
    def read_state(self, path: Path) -> dict[str, torch.Tensor]:
        """The state dict stored in ``path``."""

    def load_and_run(self, path: Path, inputs: torch.Tensor) -> Output:
        network = self._blank_network()
        try:
            network.load_state_dict(self.read_state(path), strict=True)
        except RuntimeError as exc:
            raise ExportError(
                f"{path}: the written weights do not load into the model ({first_line(exc)}); "
                "report this as a trainforge bug"
            ) from None
        with torch.inference_mode():
            return network.eval()(inputs)  # type: ignore[no-any-return]


@contextlib.contextmanager
def export_errors(fmt: str, path: Path, hint: str = "") -> Iterator[None]:
    """Turn a library's failure while exporting into one ``ExportError`` line."""
    try:
        yield
    except ExportError:
        raise
    except ImportError as exc:
        raise ExportError(
            f"{fmt} export needs {exc.name or 'a missing package'}: "
            "pip install 'trainforge[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from exc
    except Exception as exc:  # torch's exporters raise many unrelated types: report all
        extra = f"; {hint}" if hint else ""
        raise ExportError(
            f"{fmt} export to {path} failed: {type(exc).__name__}: {first_line(exc)}{extra}"
        ) from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def parameter_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())
