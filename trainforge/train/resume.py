"""Where a resume starts from, and which config changes a resume may make."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainforge.checkpoint.format import verify_checkpoint
from trainforge.errors import ConfigError, RunFolderError

# Keys a resume may change: they alter how long or how visibly training runs, never its maths.
SAFE_PREFIXES = (
    "training.epochs",
    "training.max_steps",
    "training.device",
    "training.channels_last",  # a memory layout: the same computation
    "training.oom_policy",  # the micro-batch a shrink chose is in the checkpoint
    "training.distributed_timeout_s",  # how long to wait for a peer, not what is computed
    "training.heartbeat_timeout_s",
    "logging.",
    "early_stopping.patience",
    "early_stopping.enabled",
    "early_stopping.min_delta",
    "checkpointing.",
    "data.train_path",
    "data.val_path",
    "data.test_path",
    "data.num_workers",
    "data.pin_memory",
    "data.persistent_workers",
    "provenance",
)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ: {key: (checkpoint value, new value)}."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def unsafe_changes(changes: Mapping[str, tuple[Any, Any]]) -> list[str]:
    return [k for k in changes if not any(k == p or k.startswith(p) for p in SAFE_PREFIXES)]


def check_resume_changes(changes: Mapping[str, tuple[Any, Any]]) -> None:
    bad = unsafe_changes(changes)
    if bad:
        shown = ", ".join(f"{k} ({changes[k][0]!r} -> {changes[k][1]!r})" for k in bad[:4])
        more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
        raise ConfigError(
            f"--resume: the config changes {shown}{more}, which would not continue the same run; "
            "only epochs, max_steps, logging, checkpointing, patience, data paths and workers may "
            "change (start a new run with pretrained: <checkpoint> to fine-tune instead)"
        )


def checkpoint_folder_of(run_dir: Path) -> str:
    """The run's ``checkpointing.save_dir`` as its config.yaml records it (default checkpoints)."""
    import yaml

    try:
        saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        return str(saved["checkpointing"]["save_dir"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "checkpoints"


def find_resume_checkpoint(
    run_dir: Path,
    checkpoint_dir: str | None = None,
    skipped: list[tuple[Path, str]] | None = None,
) -> Path | None:
    """The newest valid checkpoint of a run folder, or None (``--resume auto``).

    Newer files that fail to load (damaged, tampered with) are passed over; each one is
    added to ``skipped`` with the reason, so the caller can warn about it.
    """
    folder = run_dir / (checkpoint_dir or checkpoint_folder_of(run_dir))
    if not folder.is_dir():
        return None
    candidates = sorted(
        (p for p in folder.glob("*.pth") if p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    # last.pth is written after the others of the same step: prefer it on equal times.
    candidates.sort(key=lambda p: (p.stat().st_mtime, p.name == "last.pth"), reverse=True)
    for path in candidates:
        ok, reason = verify_checkpoint(path)
        if ok:
            return path
        if skipped is not None:
            skipped.append((path, reason))
    return None


def unfinished_without_checkpoints(run_dir: Path) -> bool:
    """A run folder whose run never completed and never wrote a checkpoint file."""
    if not (run_dir / "metadata.json").is_file():
        return False
    if any((run_dir / checkpoint_folder_of(run_dir)).glob("*.pth")):
        return False
    try:
        status = json.loads((run_dir / "metadata.json").read_text()).get("status")
    except (OSError, ValueError):
        return False
    return status != "completed"


def skipped_warning(path: Path, reason: str) -> str:
    """The warning for a checkpoint that ``--resume auto`` passed over."""
    return f"--resume: skipped {path} ({reason}); resuming from an older checkpoint instead"


def copy_history(
    source_run: Path, target_run: Path, positions: Mapping[str, Any], log_dir: str
) -> None:
    """A resume into a new folder starts with the old run's logs up to the checkpoint."""
    src, dst = source_run / log_dir, target_run / log_dir
    if not src.is_dir() or src.resolve() == dst.resolve():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for name, key in (
        ("metrics.json", "metrics"),
        ("train.log", "text"),
        ("alerts.jsonl", "alerts"),
    ):
        if (src / name).is_file() and not (dst / name).exists():
            data = (src / name).read_bytes()
            pos = positions.get(key)
            (dst / name).write_bytes(data[: int(pos)] if pos is not None else data)
    tb = src / "tensorboard"
    if tb.is_dir() and not (dst / "tensorboard").exists():
        shutil.copytree(tb, dst / "tensorboard")


def resolve_resume(
    resume: str | Path, output: Path | None, skipped: list[tuple[Path, str]] | None = None
) -> Path | None:
    """``auto`` -> newest valid checkpoint of --output (None: fresh start); a folder -> the
    same for that folder; a file -> that file. Damaged files passed over go to ``skipped``."""
    if str(resume) == "auto":
        if output is None:
            raise ConfigError("--resume auto needs --output (the run folder to continue)")
        return find_resume_checkpoint(output, skipped=skipped) if output.exists() else None
    path = Path(resume)
    if path.is_dir():
        found = find_resume_checkpoint(path, skipped=skipped)
        if found is None:
            raise RunFolderError(f"--resume {path}: no valid checkpoint in {path}/checkpoints")
        return found
    if not path.exists():
        raise RunFolderError(f"--resume {path}: no such checkpoint file; check the path")
    return path
