"""Graph formats: ONNX (dynamo exporter), torch.export programs (.pt2) and TorchScript.

Each is exported with a dynamic batch dimension and run back in its own runtime.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.ckpt.export._base import Exporter, Output, export_errors, parameter_bytes

INPUT_NAME = "input"
# protobuf's hard limit is 2 GiB; leave room for the graph itself next to the weights.
ONNX_SINGLE_FILE_LIMIT = 2 * 1024**3 - 64 * 1024**2
TORCHSCRIPT_NOTICE = (
    "PyTorch has deprecated TorchScript (torch.jit); it is kept for runtimes that still need "
    "it: prefer --format torch_export (.pt2) or onnx"
)


def dynamic_batch() -> tuple[dict[int, Any], ...]:
    """``dynamic_shapes`` for a single positional input whose dim 0 is the batch."""
    return ({0: torch.export.Dim("batch", min=1)},)


class OnnxExporter(Exporter):
    """``torch.onnx.export(dynamo=True)``; one file unless the weights exceed protobuf's 2 GiB."""

    name = "onnx"
    suffix = ".onnx"
    runtime = "onnxruntime"

    def __init__(self, output_name: str = "output") -> None:
        self.output_name = output_name
        self.opset: int | None = None

    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        external = parameter_bytes(model) >= ONNX_SINGLE_FILE_LIMIT
        data_file = path.with_name(path.name + ".data")
        with export_errors(self.name, path, "try --format torch_export"):
            import onnx
            import onnxscript  # noqa: F401  (the dynamo exporter needs it; fail early and clearly)

            with warnings.catch_warnings():
                # The exporter's own deprecation chatter is about its internals, not our call.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=True,
                    external_data=external,
                    dynamic_shapes=dynamic_batch(),
                    input_names=[INPUT_NAME],
                    output_names=[self.output_name],
                    verbose=False,
                )
            proto = onnx.load(str(path), load_external_data=False)
            self.opset = next((o.version for o in proto.opset_import if o.domain == ""), None)
        return [path, data_file] if external and data_file.exists() else [path]

    def load_and_run(self, path: Path, inputs: torch.Tensor) -> Output:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return session.run(None, {name: inputs.detach().cpu().numpy()})[0]  # type: ignore[no-any-return]

    def runtime_version(self) -> str:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"


class TorchExportExporter(Exporter):
    """``torch.export.export`` with a dynamic batch, saved with ``torch.export.save``."""

    name = "torch_export"
    suffix = ".pt2"
    runtime = "torch.export.load"

    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        with export_errors(self.name, path, "the model may use Python control flow on data"):
            program = torch.export.export(model, (example,), dynamic_shapes=dynamic_batch())
            torch.export.save(program, str(path))
        return [path]

    def load_and_run(self, path: Path, inputs: torch.Tensor) -> Output:
        module = torch.export.load(str(path)).module()
        with torch.inference_mode():
            return module(inputs)  # type: ignore[no-any-return]


class TorchScriptExporter(Exporter):
    """``torch.jit.trace`` (works for any model without data-dependent control flow)."""

    name = "torchscript"
    suffix = ".pt"
    runtime = "torch.jit.load"
    notice = TORCHSCRIPT_NOTICE

    def export(self, model: nn.Module, example: torch.Tensor, path: Path) -> list[Path]:
        with export_errors(self.name, path, "try --format torch_export"), _quiet_jit():
            traced = torch.jit.trace(model, (example,))
            torch.jit.save(traced, str(path))
        return [path]

    def load_and_run(self, path: Path, inputs: torch.Tensor) -> Output:
        with _quiet_jit():
            module = torch.jit.load(str(path), map_location="cpu")
        with torch.inference_mode():
            return module(inputs)  # type: ignore[no-any-return]


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """torch.jit warns on every call that it is deprecated; the user is told once, by us."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*deprecated")
        yield
