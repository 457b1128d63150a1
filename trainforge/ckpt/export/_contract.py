"""The sidecar ``PATH.json``: how to call an exported model, where it came from, how it verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from trainforge import __version__
from trainforge._fileio import atomic_write_text
from trainforge.ckpt.export._graphs import INPUT_NAME
from trainforge.ckpt.export._inputs import input_shape
from trainforge.data.spec import InputSpec

SIDECAR_VERSION = 1


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name + ".json")


def output_name(spec: InputSpec) -> str:
    return "logits" if spec.task == "classification" else "prediction"


def describe_input(spec: InputSpec, *, raw: bool, holds_graph: bool) -> dict[str, Any]:
    if raw:
        space = "raw"
        meaning = _raw_meaning(spec)
    elif spec.preprocessing:
        space = "preprocessed"
        meaning = (
            "model inputs after the training preprocessing (see 'preprocessing'); "
            "trainforge.load_model applies it for you"
        )
    else:
        space = "preprocessed"
        meaning = "model inputs exactly as the custom training dataset produced them"
    entry: dict[str, Any] = {
        "name": INPUT_NAME if holds_graph else None,
        "shape": ["batch", *input_shape(spec, raw=raw)],
        "dtype": spec.dtype,
        "space": space,
        "meaning": meaning,
    }
    if spec.kind == "tabular" and spec.feature_names:
        entry["columns"] = list(spec.feature_names)
    return entry


def _raw_meaning(spec: InputSpec) -> str:
    p = spec.preprocessing
    if spec.kind == "tabular":
        return "feature rows as in the training CSV, columns in 'columns' order"
    top = round(1.0 / float(p["pixel_scale"]))
    values = f"pixel values 0..{top}" if top > 1 else "pixel values in [0, 1]"
    if p.get("input_layout") == "flat":
        return f"flat pixel rows as in the training CSV ({values}), row-major {spec.shape}"
    return f"images [channels, height, width] at the training size ({values})"


def describe_output(spec: InputSpec) -> dict[str, Any]:
    if spec.task == "classification":
        return {
            "name": output_name(spec),
            "shape": ["batch", spec.num_classes],
            "dtype": "float32",
            "meaning": "unnormalised class scores in class_names order: softmax gives "
            "probabilities, argmax the class index",
        }
    return {
        "name": output_name(spec),
        "shape": ["batch", 1],
        "dtype": "float32",
        "meaning": "the predicted target, in the units of the training target column",
    }


def source_info(checkpoint: Path, state: dict[str, Any]) -> dict[str, Any]:
    trainer = state.get("trainer") or {}
    lineage = state.get("lineage") or {}
    return {
        "path": str(checkpoint),
        "checksum": state.get("checksum"),
        "epoch": trainer.get("epoch"),
        "global_step": trainer.get("global_step"),
        "run_id": lineage.get("run_id"),
        "metrics": {k: float(v) for k, v in (state.get("metrics") or {}).items()},
    }


def versions(runtime: str) -> dict[str, str]:
    return {"trainforge": __version__, "torch": torch.__version__, "runtime": runtime}


def write_sidecar(path: Path, content: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a contract."""
    atomic_write_text(path, json.dumps(content, indent=2) + "\n")
