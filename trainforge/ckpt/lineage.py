"""Where a model came from: the chain of resumes and parents, back to a run from scratch.

Every trainforge checkpoint records its ``lineage`` (run id, parent, resumed-from, provenance,
data hash) without user effort; the registry keeps a copy per version. ``walk`` follows the
links through registered versions and, where a link leaves the registry, through the
checkpoint files themselves, as long as they still exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_MAX_DEPTH = 64


class Resolver(Protocol):
    """What ``walk`` needs from the registry (and the filesystem)."""

    def entry(self, name: str, version: str) -> Mapping[str, Any] | None: ...

    def ref_for_path(self, path: str) -> str | None: ...

    def lineage_of_file(self, path: str) -> Mapping[str, Any] | None: ...


@dataclass
class LineageNode:
    label: str  # NAME@VERSION, a checkpoint path, or a weights source
    relation: str  # "model", "resumed from", "parent"
    kind: str  # registry | checkpoint | state_dict | torchvision | missing
    run_id: str | None = None
    data_hash: str | None = None
    provenance: Any = None
    path: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "relation": self.relation,
            "kind": self.kind,
            "run_id": self.run_id,
            "data_hash": self.data_hash,
            "provenance": self.provenance,
            "path": self.path,
            "note": self.note,
        }


def split_ref(ref: str) -> tuple[str, str]:
    name, _, version = ref.partition("@")
    return name, version


def parent_target(parent: Mapping[str, Any] | None, resolver: Resolver) -> tuple[str, str] | None:
    """(kind, registry ref or path) of a recorded parent; None when trained from scratch."""
    if not parent:
        return None
    kind = str(parent.get("kind") or "checkpoint")
    if kind == "registry" and parent.get("name") and parent.get("version"):
        ref = f"{parent['name']}@{parent['version']}"
        if resolver.entry(*split_ref(ref)) is not None:
            return "registry", ref
    path = parent.get("path")
    if kind == "torchvision" or not path:
        return "torchvision" if kind == "torchvision" else kind, str(path or parent.get("name"))
    found = resolver.ref_for_path(str(path))
    return ("registry", found) if found else (kind, str(path))


def walk(name: str, version: str, resolver: Resolver) -> list[LineageNode]:
    """The registered version first, then what it was resumed from and started from."""
    nodes: list[LineageNode] = []
    target: tuple[str, str] | None = ("registry", f"{name}@{version}")
    relation = "model"
    seen: set[str] = set()
    while target is not None and len(nodes) < _MAX_DEPTH:
        kind, label = target
        if label in seen:
            nodes.append(LineageNode(label, relation, kind, note="cycle; stopped here"))
            break
        seen.add(label)
        node, lineage, parent_ref = _visit(kind, label, relation, resolver)
        nodes.append(node)
        if lineage is None:
            break
        resumed = lineage.get("resumed_from")
        if _other_run(resumed, lineage) and isinstance(resumed, Mapping):
            path = str(resumed.get("path"))
            target, relation = _resume_target(path, resolver), "resumed from"
            if target is not None:
                continue
            nodes.append(
                LineageNode(
                    path,
                    "resumed from",
                    "missing",
                    run_id=resumed.get("run_id"),
                    note="the checkpoint no longer exists",
                )
            )
        relation = "parent"
        if parent_ref:
            target = ("registry", parent_ref)
        else:
            target = parent_target(lineage.get("parent"), resolver)
    return nodes


def _other_run(resumed: Any, lineage: Mapping[str, Any]) -> bool:
    # An in-place resume continues the same run id: the earlier file is usually overwritten
    # (last.pth) and adds nothing to the chain.
    return isinstance(resumed, Mapping) and resumed.get("run_id") != lineage.get("run_id")


def _resume_target(path: str, resolver: Resolver) -> tuple[str, str] | None:
    ref = resolver.ref_for_path(path)
    if ref:
        return "registry", ref
    return ("checkpoint", path) if Path(path).is_file() else None


def _visit(
    kind: str, label: str, relation: str, resolver: Resolver
) -> tuple[LineageNode, Mapping[str, Any] | None, str | None]:
    """The node for one link, its lineage (None: the chain ends here) and a registry parent."""
    if kind == "registry":
        entry = resolver.entry(*split_ref(label))
        if entry is None:
            return LineageNode(label, relation, "missing", note="not in this registry"), None, None
        lineage = entry.get("lineage") or {}
        node = _node(label, relation, kind, lineage, entry.get("path"))
        return node, lineage, entry.get("parent")
    if kind == "checkpoint":
        lineage = resolver.lineage_of_file(label)
        if lineage is None:
            note = "file missing or unreadable" if not Path(label).is_file() else "no lineage"
            return LineageNode(label, relation, "missing", path=label, note=note), None, None
        return _node(label, relation, kind, lineage, label), lineage, None
    note = "pretrained weights" if kind == "torchvision" else "plain weights file"
    return LineageNode(label, relation, kind, path=label, note=note), None, None


def _node(
    label: str, relation: str, kind: str, lineage: Mapping[str, Any], path: Any
) -> LineageNode:
    return LineageNode(
        label,
        relation,
        kind,
        run_id=lineage.get("run_id"),
        data_hash=lineage.get("data_hash"),
        provenance=lineage.get("provenance"),
        path=str(path) if path is not None else None,
    )


def format_chain(nodes: list[LineageNode]) -> str:
    """An indented, top-down text view of the chain."""
    lines = []
    for depth, node in enumerate(nodes):
        pad = "  " * depth
        head = node.label if node.relation == "model" else f"{node.relation}: {node.label}"
        lines.append(f"{pad}{'└─ ' if depth else ''}{head} [{node.kind}]")
        inner = pad + ("   " if depth else "") + "  "
        if node.run_id:
            lines.append(f"{inner}run {node.run_id}")
        if node.data_hash:
            lines.append(f"{inner}training data sha256 {node.data_hash}")
        if node.provenance:
            lines.append(f"{inner}provenance {_compact(node.provenance)}")
        if node.note:
            lines.append(f"{inner}({node.note})")
    last = nodes[-1] if nodes else None
    if last is not None and last.kind in ("registry", "checkpoint"):
        lines.append("  " * len(nodes) + "└─ trained from scratch")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
    return str(value)


__all__ = ["LineageNode", "Resolver", "format_chain", "parent_target", "split_ref", "walk"]
