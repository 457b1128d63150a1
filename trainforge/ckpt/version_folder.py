"""What one registered version holds, gathered from a checkpoint and the run that wrote it.

``models/NAME_vX.Y.Z/``: checkpoint.pth (the file, byte for byte), config.yaml, metrics.json,
training_log.txt (the run's logs/train.log) and model_card.md.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from trainforge._fileio import atomic_write_text, temp_path
from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt.card import CardInputs, render_card
from trainforge.errors import CheckpointError

FILES = ("checkpoint.pth", "config.yaml", "metrics.json", "training_log.txt", "model_card.md")


@dataclass
class Release:
    """A checkpoint, read once, with everything the registry stores about it."""

    source: Path
    checksum: str
    config: dict[str, Any]
    spec: dict[str, Any]
    metrics: dict[str, float]
    lineage: dict[str, Any]
    epoch: int | None
    step: int | None
    parameters: int
    run_dir: Path | None
    run: dict[str, Any] = field(default_factory=dict)  # metadata.json, trimmed
    test: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def read_release(checkpoint: Path) -> Release:
    state = load_checkpoint(checkpoint)
    if not isinstance(state.get("config"), dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{checkpoint} has no config or model state; it cannot be registered")
    trainer = state.get("trainer") or {}
    run_dir = find_run_dir(checkpoint, state)
    release = Release(
        source=checkpoint,
        checksum=str(state.get("checksum")),
        config=state["config"],
        spec=dict(state.get("input_spec") or {}),
        metrics={k: float(v) for k, v in (state.get("metrics") or {}).items()},
        lineage=dict(state.get("lineage") or {}),
        epoch=trainer.get("epoch"),
        step=trainer.get("global_step"),
        parameters=sum(
            int(v.numel()) for v in state["model"].values() if isinstance(v, torch.Tensor)
        ),
        run_dir=run_dir,
        run=_run_metadata(run_dir),
    )
    return release


def find_run_dir(checkpoint: Path, state: dict[str, Any]) -> Path | None:
    """The run folder: as recorded in the checkpoint, else the folder above checkpoints/."""
    log_dir = ((state.get("config") or {}).get("logging") or {}).get("log_dir") or "logs"
    recorded = state.get("run_dir")
    candidates = [Path(recorded)] if recorded else []
    candidates.append(checkpoint.resolve().parent.parent)
    for folder in candidates:
        if (folder / log_dir / "train.log").is_file() or (folder / "metadata.json").is_file():
            return folder
    return None


def _run_metadata(run_dir: Path | None) -> dict[str, Any]:
    if run_dir is None or not (run_dir / "metadata.json").is_file():
        return {}
    try:
        meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    system = meta.get("system") or {}
    return {
        "duration_s": meta.get("duration_s"),
        "start_time": meta.get("start_time"),
        "end_time": meta.get("end_time"),
        "status": meta.get("status"),
        "device": meta.get("device"),
        "epochs_completed": meta.get("epochs_completed"),
        "system": {k: system.get(k) for k in ("cpu_model", "cpu_count", "ram_total_gb", "gpus")},
        "versions": {
            k: v for k, v in (meta.get("versions") or {}).items() if k in ("torch", "trainforge")
        },
    }


def training_log(release: Release) -> str:
    log_dir = (release.config.get("logging") or {}).get("log_dir") or "logs"
    if release.run_dir is not None and (release.run_dir / log_dir / "train.log").is_file():
        return (release.run_dir / log_dir / "train.log").read_text(
            encoding="utf-8", errors="replace"
        )
    return (
        f"# The training log of this model's run was not found next to {release.source} "
        "(expected <run folder>/logs/train.log).\n"
    )


def metrics_document(release: Release, name: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "epoch": release.epoch,
        "global_step": release.step,
        "metrics": release.metrics,
        "test": release.test,
    }


def card_inputs(
    name: str,
    version: str,
    entry: dict[str, Any],
    config: dict[str, Any],
    aliases: list[str],
    registry: str = "models",
) -> CardInputs:
    return CardInputs(
        name=name,
        version=version,
        config=config,
        spec=entry.get("input_spec") or {},
        metrics=entry.get("metrics") or {},
        epoch=entry.get("epoch"),
        step=entry.get("global_step"),
        parameters=entry.get("parameters"),
        created=entry.get("created"),
        parent=entry.get("parent") or _describe_parent(entry.get("lineage") or {}),
        lineage=entry.get("lineage") or {},
        run=entry.get("run") or {},
        test=entry.get("test"),
        exports=list(entry.get("exports") or []),
        aliases=aliases,
        registry=registry,
    )


def _describe_parent(lineage: dict[str, Any]) -> str | None:
    parent = lineage.get("parent")
    if not isinstance(parent, dict):
        return None
    return str(parent.get("path") or parent.get("name") or parent.get("kind"))


def write_folder(folder: Path, release: Release, name: str, version: str, card: str) -> None:
    """Create ``folder`` complete or not at all (built under a temporary name, then renamed)."""
    temp = temp_path(folder)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        temp.mkdir(parents=True)
        shutil.copyfile(release.source, temp / "checkpoint.pth")
        (temp / "config.yaml").write_text(
            yaml.safe_dump(release.config, sort_keys=False), encoding="utf-8"
        )
        (temp / "metrics.json").write_text(
            json.dumps(metrics_document(release, name, version), indent=2) + "\n", encoding="utf-8"
        )
        (temp / "training_log.txt").write_text(training_log(release), encoding="utf-8")
        (temp / "model_card.md").write_text(card, encoding="utf-8")
        os.replace(temp, folder)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise CheckpointError(f"could not write {folder}: {exc.strerror or exc}") from None


def rewrite_card(folder: Path, inputs: CardInputs) -> None:
    atomic_write_text(folder / "model_card.md", render_card(inputs))


__all__ = [
    "FILES",
    "Release",
    "card_inputs",
    "find_run_dir",
    "metrics_document",
    "read_release",
    "rewrite_card",
    "write_folder",
]
