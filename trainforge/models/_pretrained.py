"""``model.pretrained``: load starting weights into a freshly built model.

Every source ends as a state dict that is matched against the model by name and shape:
tensors whose shape differs (typically the head, when the class count changed) are skipped
and reported rather than failing, because fine-tuning on new classes is the common case.
The returned info becomes the run's lineage parent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from trainforge.checkpoint import (
    WRAPPER_PREFIXES,
    describe_contents,
    find_model_weights,
    is_trainforge_checkpoint,
    load_state_dict_file,
)
from trainforge.config import ModelConfig
from trainforge.errors import CheckpointError, ModelError, UnsafeCheckpointError
from trainforge.models._torchvision import default_weights, first_conv_name, is_torchvision_name

REGISTRY_PREFIX = "registry:"
DEFAULT_REGISTRY = "models"


@dataclass
class Match:
    """The outcome of fitting a source state dict to a model's."""

    loadable: dict[str, Tensor] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # in both, but shapes differ
    missing: list[str] = field(default_factory=list)  # the model's, absent from the source
    unexpected: list[str] = field(default_factory=list)  # the source's, unknown to the model


def load_pretrained(model: nn.Module, cfg: ModelConfig) -> dict[str, Any] | None:
    """Apply ``cfg.pretrained`` to ``model`` in place; returns the parent info, or None."""
    value = _normalise(cfg.pretrained)
    if value is False:
        return None
    if value is True:
        info, state = _torchvision_default(cfg.architecture.strip().lower())
    else:
        info, state = _from_file(value)
    match = match_state_dict(model.state_dict(), state, _first_conv_weight(model))
    if not match.loadable:
        raise ModelError(
            f"none of the weights in {info['path']} fit model.architecture "
            f"'{cfg.architecture}' (no parameter name and shape in common); was it saved "
            "from a different architecture?"
        )
    model.load_state_dict(match.loadable, strict=False)
    info.update(
        skipped_keys=match.skipped,
        missing_keys=match.missing,
        unexpected_keys=match.unexpected,
        loaded_keys=len(match.loadable),
    )
    return info


def resolve_pretrained_path(value: str) -> Path:
    """The file a ``model.pretrained`` string names; ``registry:NAME@VERSION`` is looked up
    as ``<registry>/NAME_vVERSION/checkpoint.pth`` (registry: $TRAINFORGE_REGISTRY or models/)."""
    if not value.startswith(REGISTRY_PREFIX):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ModelError(
                f"model.pretrained file not found: {path}; give a state dict or checkpoint "
                "file, 'registry:NAME@VERSION', or true for torchvision's weights"
            )
        return path
    name, version = parse_registry_ref(value)
    registry = Path(os.environ.get("TRAINFORGE_REGISTRY") or DEFAULT_REGISTRY)
    version = _alias_version(registry, name, version)
    path = registry / f"{name}_v{version}" / "checkpoint.pth"
    if not path.is_file():
        raise ModelError(
            f"model.pretrained '{value}': {path} not found; register that model version first "
            "(trainforge ckpt register) or point TRAINFORGE_REGISTRY at the registry folder"
        )
    return path


def _alias_version(registry: Path, name: str, ref: str) -> str:
    """``production`` -> the version that alias points at; ``latest`` -> the highest version.

    Read straight from registry.json so that model building does not depend on the registry
    tool; a version number is returned unchanged.
    """
    if ref[:1].isdigit():
        return ref
    try:
        entry = json.loads((registry / "registry.json").read_text(encoding="utf-8"))["models"][name]
    except (OSError, ValueError, KeyError, TypeError):
        return ref
    if ref == "latest" and entry.get("versions"):
        return max(entry["versions"], key=lambda v: tuple(int(p) for p in v.split(".")))
    return str((entry.get("aliases") or {}).get(ref, ref))


def parse_registry_ref(value: str) -> tuple[str, str]:
    """'registry:digits@1.2.0' -> ('digits', '1.2.0'); a leading 'v' on the version is dropped."""
    name, sep, version = value.removeprefix(REGISTRY_PREFIX).partition("@")
    version = version.removeprefix("v")
    if not sep or not name or not version:
        raise ModelError(
            f"model.pretrained '{value}' is not 'registry:NAME@VERSION' (e.g. registry:digits@1.0.0)"
        )
    return name, version


def match_state_dict(
    target: Mapping[str, Tensor], source: Mapping[str, Tensor], first_conv_weight: str | None
) -> Match:
    """Which source tensors can be copied into the target, by name and shape."""
    source = strip_wrapper_prefixes(source, target.keys())
    match = Match()
    for key, wanted in target.items():
        if key not in source:
            match.missing.append(key)
            continue
        tensor = source[key]
        if key == first_conv_weight:
            tensor = adapt_conv_channels(tensor, wanted.shape[1] if wanted.ndim == 4 else 0)
        if tensor.shape != wanted.shape:
            match.skipped.append(key)
            continue
        match.loadable[key] = tensor
    match.unexpected = [key for key in source if key not in target]
    return match


def adapt_conv_channels(weight: Tensor, in_channels: int) -> Tensor:
    """Fit first-conv weights made for RGB to ``in_channels`` inputs.

    Each new channel gets the RGB mean scaled by 3/C, so a gray image of value v gives the
    same response as an RGB image of (v, v, v); for C=1 that is the sum over RGB.
    """
    if weight.ndim != 4 or weight.shape[1] != 3 or in_channels in (0, 3):
        return weight
    mean = weight.mean(dim=1, keepdim=True) * (3.0 / in_channels)
    return mean.repeat(1, in_channels, 1, 1)


def strip_wrapper_prefixes(source: Mapping[str, Tensor], target_keys: Any) -> Mapping[str, Tensor]:
    """Drop 'module.' / '_orig_mod.' from every key when the model's keys do not have it."""
    wanted = set(target_keys)
    for prefix in WRAPPER_PREFIXES:
        if source and all(k.startswith(prefix) for k in source) and not wanted & set(source):
            source = {k.removeprefix(prefix): v for k, v in source.items()}
    return source


def _normalise(value: bool | str) -> bool | str:
    # '--set model.pretrained=true' may arrive as a string.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _torchvision_default(architecture: str) -> tuple[dict[str, Any], Mapping[str, Tensor]]:
    if not is_torchvision_name(architecture):
        raise ModelError(
            f"model.pretrained: true needs a torchvision architecture, but '{architecture}' "
            "has no published weights; set model.pretrained to a checkpoint or state dict "
            "path (or registry:NAME@VERSION) instead"
        )
    weights_name, url, state = default_weights(architecture)
    return _info("torchvision", url, name=weights_name), state


def _from_file(value: str) -> tuple[dict[str, Any], Mapping[str, Tensor]]:
    path = resolve_pretrained_path(value)
    raw = _read_weights_only(path)
    state = find_model_weights(raw)
    if state is None:
        raise ModelError(
            f"{path} holds {describe_contents(raw)}, not a state dict or trainforge checkpoint; "
            "save it with torch.save(model.state_dict(), path)"
        )
    kind, run_id = "state_dict", None
    if is_trainforge_checkpoint(raw):
        lineage = raw.get("lineage") or {}
        run_id = lineage.get("run_id") if isinstance(lineage, dict) else None
        kind = "checkpoint"
    if value.startswith(REGISTRY_PREFIX):
        name, _ = parse_registry_ref(value)
        version = Path(path).parent.name.rpartition("_v")[2]  # an alias resolved to its version
        return _info("registry", str(path), run_id=run_id, name=name, version=version), state
    return _info(kind, str(path), run_id=run_id), state


def _info(
    kind: str,
    path: str,
    *,
    run_id: Any = None,
    name: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    return {"kind": kind, "path": path, "run_id": run_id, "name": name, "version": version}


def _read_weights_only(path: Path) -> dict[str, Any]:
    """Load ``path`` weights-only; a trainforge checkpoint has its checksum verified."""
    try:
        return load_state_dict_file(path)
    except UnsafeCheckpointError as exc:
        raise ModelError(
            f"{path} cannot be loaded safely (weights only): it holds pickled Python objects, "
            "e.g. a whole model saved with torch.save(model); save model.state_dict() instead"
        ) from exc
    except CheckpointError as exc:  # missing, damaged, a newer format, not a dict...
        raise ModelError(f"model.pretrained: {exc}") from exc


def _first_conv_weight(model: nn.Module) -> str | None:
    name = first_conv_name(model)
    return f"{name}.weight" if name is not None else None
