"""Compare an exported file, run by its own runtime, with the PyTorch model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainforge.ckpt.export._base import Exporter, Output

TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}
"""Largest accepted max |exported - pytorch| per output dtype, for outputs of magnitude <= 1;
larger outputs (regression targets in their own units) scale it by their largest magnitude."""


def tolerance_for(dtype: str, reference: torch.Tensor) -> float:
    scale = max(1.0, float(reference.abs().max())) if reference.numel() else 1.0
    return TOLERANCE.get(dtype, 1e-3) * scale


def as_tensor(output: Output) -> torch.Tensor:
    if isinstance(output, np.ndarray):
        return torch.from_numpy(np.asarray(output))
    return output.detach().cpu()


def verify(
    exporter: Exporter,
    path: Path,
    reference: nn.Module,
    make_inputs: Callable[[int], torch.Tensor],
    *,
    dtype: str = "float32",
    batch_sizes: Sequence[int] = (1, 7),
) -> dict[str, Any]:
    """Max absolute difference per batch size; ``passed`` when all are finite and in tolerance."""
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for batch in batch_sizes:
        inputs = make_inputs(batch)
        with torch.inference_mode():
            expected = reference(inputs).detach().cpu().double()
        got = as_tensor(exporter.load_and_run(path, inputs)).double()
        tolerance = tolerance_for(dtype, expected)
        if got.shape != expected.shape:
            diff = math.inf
            problem: str | None = f"output shape {list(got.shape)}, expected {list(expected.shape)}"
        else:
            diff = float((got - expected).abs().max()) if got.numel() else 0.0
            problem = None if diff <= tolerance else f"max |diff| {diff:.3g} > {tolerance:.3g}"
        rows.append(
            {
                "batch_size": batch,
                "max_abs_diff": diff if math.isfinite(diff) else None,
                "tolerance": tolerance,
                "passed": problem is None,
                **({"problem": problem} if problem else {}),
            }
        )
    finite = [r["max_abs_diff"] for r in rows if r["max_abs_diff"] is not None]
    return {
        "runtime": exporter.runtime_version(),
        "loaded_with": exporter.runtime,
        "batch_sizes": list(batch_sizes),
        "max_abs_diff": max(finite) if len(finite) == len(rows) else None,
        "passed": all(r["passed"] for r in rows),
        "results": rows,
        "seconds": round(time.perf_counter() - start, 3),
    }


def describe(verification: dict[str, Any]) -> str:
    """One line for the console: runtime and max |diff| per batch size."""
    parts = []
    for row in verification["results"]:
        diff = row["max_abs_diff"]
        text = f"{diff:.2g}" if diff is not None else "non-finite"
        parts.append(f"batch {row['batch_size']}: {text}")
    verdict = "verified" if verification["passed"] else "FAILED verification"
    tol = max(r["tolerance"] for r in verification["results"])
    return (
        f"{verdict} with {verification['runtime']}: max |exported - pytorch| "
        f"{', '.join(parts)} (tolerance {tol:.0e})"
    )
