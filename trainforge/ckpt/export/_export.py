"""``export_checkpoint``: checkpoint → deployable file + sidecar contract, verified."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.export._base import Exporter, first_line
from trainforge.ckpt.export._contract import (
    SIDECAR_VERSION,
    describe_input,
    describe_output,
    output_name,
    sidecar_path,
    source_info,
    versions,
    write_sidecar,
)
from trainforge.ckpt.export._graphs import OnnxExporter, TorchExportExporter, TorchScriptExporter
from trainforge.ckpt.export._inputs import EXPORT_BATCH, SEED, VERIFY_BATCHES, sample_inputs
from trainforge.ckpt.export._verify import describe, verify
from trainforge.ckpt.export._weights import PytorchExporter, SafetensorsExporter
from trainforge.errors import ExportError, UsageError
from trainforge.inference import load_model

FORMATS: dict[str, type[Exporter]] = {
    "pytorch": PytorchExporter,
    "safetensors": SafetensorsExporter,
    "onnx": OnnxExporter,
    "torch_export": TorchExportExporter,
    "torchscript": TorchScriptExporter,
}
Echo = Callable[[str], None]


def make_exporter(fmt: str, network: nn.Module, output: str = "output") -> Exporter:
    """The exporter of ``fmt``; ``network`` is the trained network (weights formats need a copy)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if fmt == "pytorch":
        return PytorchExporter(lambda: blank_copy(network))
    if fmt == "safetensors":
        return SafetensorsExporter(lambda: blank_copy(network))
    if fmt == "onnx":
        return OnnxExporter(output)
    return FORMATS[fmt]()


def blank_copy(network: nn.Module) -> nn.Module:
    """The same architecture with every float tensor NaN: a weight the file lacks shows up."""
    blank = copy.deepcopy(network)
    with torch.no_grad():
        for tensor in blank.state_dict().values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
    return blank


def export_checkpoint(
    checkpoint: str | Path,
    fmt: str,
    output: str | Path,
    *,
    preprocessing: bool = True,
    model: nn.Module | None = None,
    echo: Echo | None = print,
) -> dict[str, Any]:
    """Export a trainforge checkpoint to ``output`` in ``fmt`` and verify it in its runtime.

    Graph formats (onnx, torch_export, torchscript) include the training preprocessing unless
    ``preprocessing`` is False, so they take inputs as they appear in the data files. Weight
    formats (pytorch, safetensors) always hold the network's state dict only; their sidecar
    records the preprocessing statistics. ``model`` is an untrained instance for networks that
    were passed to ``fit`` as objects. Writes ``output`` (plus ``output.data`` for ONNX models
    over 2 GB) and the sidecar ``output.json``; returns the sidecar's content plus ``sidecar``.

    Raises ``UsageError`` for an unknown format, ``CheckpointError`` for a missing or damaged
    checkpoint, ``ExportError`` when exporting fails or the export does not match PyTorch
    (the exported files are removed then).
    """
    say: Echo = echo or (lambda _line: None)
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    source, target = Path(checkpoint), Path(output)
    state = load_checkpoint(source)
    loaded = load_model(source, model=model)
    spec = loaded.spec
    exporter = make_exporter(fmt, loaded.network, output_name(spec))
    raw = preprocessing and exporter.holds_graph and bool(spec.preprocessing)
    graph: nn.Module = loaded if raw else loaded.network
    if fmt == "torch_export" and target.suffix != exporter.suffix:
        # torch.export.load accepts other names only with warnings on every load.
        raise UsageError(
            f"--output {target}: torch_export files must end in .pt2; "
            f"use {target.with_suffix('.pt2')}"
        )
    if target.is_dir():
        raise UsageError(
            f"--output {target} is a folder; give a file name such as model{exporter.suffix}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)

    inputs_entry = describe_input(spec, raw=raw, holds_graph=exporter.holds_graph)
    say(
        f"exporting {source} as {fmt} to {target} "
        f"(input: {inputs_entry['space']} [{', '.join(map(str, inputs_entry['shape']))}])"
    )
    if exporter.notice:
        say(f"note: {exporter.notice}")
    if preprocessing and not exporter.holds_graph and spec.preprocessing:
        say(
            f"note: {fmt} files hold the network's weights only; the preprocessing statistics "
            "are in the sidecar (trainforge.load_model applies them)"
        )

    generator = torch.Generator().manual_seed(SEED)

    def make_inputs(batch: int) -> torch.Tensor:
        return sample_inputs(spec, loaded.preprocess, batch, generator, raw=raw)

    start = time.perf_counter()
    files = exporter.export(graph, make_inputs(EXPORT_BATCH), target)
    export_seconds = round(time.perf_counter() - start, 3)
    say(f"exported in {export_seconds:.1f} s: {', '.join(_sized(f) for f in files)}")
    verification = _verify_or_remove(exporter, target, graph, make_inputs, spec.dtype, files)
    say(describe(verification))
    if not verification["passed"]:
        _remove([*files, sidecar_path(target)])
        worst = next(r for r in verification["results"] if not r["passed"])
        raise ExportError(
            f"{fmt} export of {source} does not match the PyTorch model at batch size "
            f"{worst['batch_size']} ({worst['problem']}); the file was removed: try another --format"
        )

    content: dict[str, Any] = {
        "sidecar_version": SIDECAR_VERSION,
        "format": fmt,
        "files": [f.name for f in files],
        "preprocessing_included": raw,
        "task": spec.task,
        "inputs": [inputs_entry],
        "outputs": [describe_output(spec)],
        "class_names": spec.class_names,
        "feature_names": spec.feature_names,
        "preprocessing": spec.preprocessing,
        "input_spec": spec.to_dict(),
        "source_checkpoint": source_info(source, state),
        "versions": versions(verification["runtime"]),
        "export_seconds": export_seconds,
        "verification": verification,
        "notices": [exporter.notice] if exporter.notice else [],
    }
    if isinstance(exporter, OnnxExporter):
        content["onnx_opset"] = exporter.opset
    sidecar = sidecar_path(target)
    write_sidecar(sidecar, content)
    say(f"input contract: {sidecar}")
    return {**content, "sidecar": str(sidecar)}


def _verify_or_remove(
    exporter: Exporter,
    target: Path,
    graph: nn.Module,
    make_inputs: Callable[[int], torch.Tensor],
    dtype: str,
    files: list[Path],
) -> dict[str, Any]:
    """``verify``; a file its own runtime cannot even load is removed and reported."""
    try:
        return verify(exporter, target, graph, make_inputs, dtype=dtype, batch_sizes=VERIFY_BATCHES)
    except Exception as exc:
        _remove([*files, sidecar_path(target)])  # never leave an unverified model (or old contract)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(
            f"{exporter.name} export to {target} could not be loaded back with "
            f"{exporter.runtime} ({type(exc).__name__}: {first_line(exc)}); try another --format"
        ) from exc


def _sized(path: Path) -> str:
    size, unit = float(path.stat().st_size), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            break
        size /= 1024
    return f"{path.name} ({size:.0f} {unit})" if unit == "B" else f"{path.name} ({size:.1f} {unit})"


def _remove(files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)
