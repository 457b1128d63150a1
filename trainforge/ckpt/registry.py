"""The model registry: semantic versions of checkpoints, aliases, and the links between them.

Layout (../shared/DESIGN.md): ``<registry>/registry.json`` indexes every ``NAME_vX.Y.Z/``
folder. Registered versions never change; aliases (``production``) move. Every change to the
index happens under the registry lock (see ``registry_store``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainforge.checkpoint.format import load_checkpoint
from trainforge.ckpt import semver
from trainforge.ckpt.card import export_summary, render_card
from trainforge.ckpt.lineage import LineageNode, parent_target, walk
from trainforge.ckpt.registry_store import locked, read_index, registry_root, write_index
from trainforge.ckpt.version_folder import (
    Release,
    card_inputs,
    read_release,
    rewrite_card,
    write_folder,
)
from trainforge.errors import CheckpointError, TrainforgeError, UsageError
from trainforge.evaluate import evaluate_checkpoint

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LATEST = "latest"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"--name '{name}' is not a valid model name; use letters, digits, '.', '_' and '-' "
            "(e.g. digits or digits-cnn)"
        )
    return name


def check_alias(alias: str) -> str:
    if not _NAME.match(alias) or semver.is_version(alias) or alias == LATEST:
        raise UsageError(
            f"--alias '{alias}' cannot be used: an alias is a word such as production or "
            f"staging, not a version number nor '{LATEST}'"
        )
    return alias


class Registry:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = registry_root(root)
        self._index: dict[str, Any] | None = None
        self._checksums: dict[str, str | None] = {}

    # ------------------------------------------------------------------ reading
    @property
    def index(self) -> dict[str, Any]:
        if self._index is None:
            self._index = read_index(self.root)
        return self._index

    def models(self) -> dict[str, Any]:
        return dict(self.index["models"])

    def resolve(self, ref: str) -> tuple[str, str]:
        """'NAME', 'NAME@1.2.0', 'NAME@v1.2.0', 'NAME@production', 'NAME@latest' -> (name, version)."""
        name, _, wanted = ref.partition("@")
        model = self.index["models"].get(name)
        if model is None or not model.get("versions"):
            known = ", ".join(sorted(self.index["models"])) or "none yet"
            raise UsageError(
                f"no model '{name}' in the registry {self.root}; registered models: {known}"
            )
        versions = model["versions"]
        if not wanted or wanted == LATEST:
            return name, str(semver.latest(versions))
        if semver.is_version(wanted):
            version = str(semver.parse(wanted))
            if version in versions:
                return name, version
        elif wanted in (model.get("aliases") or {}):
            return name, str(model["aliases"][wanted])
        choices = sorted(versions, key=semver.sort_key) + sorted(model.get("aliases") or {})
        raise UsageError(
            f"{name} has no version or alias '{wanted}'; choose one of {', '.join(choices)}"
        )

    def entry(self, name: str, version: str) -> Mapping[str, Any] | None:
        model = self.index["models"].get(name) or {}
        found = (model.get("versions") or {}).get(version)
        return found if isinstance(found, dict) else None

    def aliases_of(self, name: str, version: str) -> list[str]:
        model = self.index["models"].get(name) or {}
        return sorted(a for a, v in (model.get("aliases") or {}).items() if v == version)

    def ref_for_path(self, path: str) -> str | None:
        """NAME@VERSION of a registered checkpoint: by its folder, or by the file's checksum."""
        file = Path(path)
        try:
            if file.resolve().parent.parent == self.root.resolve():
                for name, version, entry in self._entries():
                    if entry.get("path") == file.resolve().parent.name:
                        return f"{name}@{version}"
        except OSError:
            pass
        checksum = self._checksum_of(file)
        if checksum is None:
            return None
        return self._by_checksum(checksum)

    def lineage_of_file(self, path: str) -> Mapping[str, Any] | None:
        try:
            state = load_checkpoint(path)
        except CheckpointError:
            return None
        lineage = state.get("lineage")
        return lineage if isinstance(lineage, dict) else {}

    def lineage(self, ref: str) -> list[LineageNode]:
        return walk(*self.resolve(ref), self)

    def _entries(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (name, version, entry)
            for name, model in self.index["models"].items()
            for version, entry in (model.get("versions") or {}).items()
        ]

    def _by_checksum(self, checksum: str) -> str | None:
        for name, version, entry in self._entries():
            if entry.get("checksum") == checksum:
                return f"{name}@{version}"
        return None

    def _checksum_of(self, file: Path) -> str | None:
        key = str(file)
        if key not in self._checksums:
            try:
                value = load_checkpoint(file).get("checksum") if file.is_file() else None
            except CheckpointError:
                value = None
            self._checksums[key] = value if isinstance(value, str) else None
        return self._checksums[key]

    # ------------------------------------------------------------------ changing
    def register(
        self,
        checkpoint: str | Path,
        name: str,
        *,
        bump: str | None = None,
        version: str | None = None,
        force: bool = False,
        aliases: Sequence[str] = (),
        exports: Sequence[Mapping[str, Any]] = (),
        evaluate: bool = True,
    ) -> dict[str, Any]:
        """Add a version; returns its index entry plus ``name``, ``version``, ``folder``."""
        check_name(name)
        for alias in aliases:
            check_alias(alias)
        if version is not None:
            semver.parse(version)  # a typo fails before the checkpoint is read and evaluated
        if bump is not None and bump not in semver.BUMPS:
            raise UsageError(f"--bump must be one of {', '.join(semver.BUMPS)}, got '{bump}'")
        release = read_release(Path(checkpoint))
        # The slow part (the test set) runs before the lock, so others are not kept waiting.
        if evaluate:
            _evaluate(release)
        with locked(self.root):
            self._index = read_index(self.root)
            duplicate = self._by_checksum(release.checksum)
            if duplicate and not force:
                raise CheckpointError(
                    f"{checkpoint} is already registered as {duplicate} (same checksum); "
                    "pass --force to register it again"
                )
            model = self.index["models"].setdefault(name, {"versions": {}, "aliases": {}})
            chosen = semver.next_version(model["versions"], bump_part=bump, explicit=version)
            folder = self.root / f"{name}_v{chosen}"
            if folder.exists():
                raise CheckpointError(
                    f"{folder} exists but registry.json does not list it; move it away or "
                    f"register with another --version"
                )
            entry = self._entry(release, folder.name, list(exports))
            model["versions"][chosen] = entry
            for alias in aliases:
                model["aliases"][alias] = chosen
            card = render_card(
                card_inputs(
                    name,
                    chosen,
                    entry,
                    release.config,
                    self.aliases_of(name, chosen),
                    self.root.as_posix(),
                )
            )
            write_folder(folder, release, name, chosen, card)
            write_index(self.root, self.index)
        return {
            "name": name,
            "version": chosen,
            "folder": str(folder),
            "notes": release.notes,
            **entry,
        }

    def promote(self, ref: str, alias: str) -> tuple[str, str, str | None]:
        """Point ``alias`` at ``ref``; returns (name, version, the version it pointed at before)."""
        check_alias(alias)
        with locked(self.root):
            self._index = read_index(self.root)
            name, version = self.resolve(ref)
            aliases = self.index["models"][name].setdefault("aliases", {})
            previous = aliases.get(alias)
            aliases[alias] = version
            write_index(self.root, self.index)
            self._refresh_cards(name, {version, previous} - {None})
        return name, version, previous

    def record_export(self, checkpoint: str | Path, report: Mapping[str, Any]) -> str | None:
        """Add an export's verification report to the registered version whose file
        ``checkpoint`` is, and re-render its card; returns NAME@VERSION, or None when
        ``checkpoint`` is not in this registry."""
        with locked(self.root):
            self._index = read_index(self.root)
            ref = self.ref_for_path(str(checkpoint))
            if ref is None:
                return None
            name, version = ref.split("@")
            entry = self.index["models"][name]["versions"][version]
            summary = export_summary(report)
            kept = [e for e in entry.get("exports") or [] if e.get("file") != summary.get("file")]
            entry["exports"] = [*kept, summary]
            write_index(self.root, self.index)
            self._refresh_cards(name, {version})
        return ref

    def _refresh_cards(self, name: str, versions: set[str]) -> None:
        for version in versions:
            entry = self.entry(name, version)
            if entry is None:
                continue
            folder = self.root / str(entry["path"])
            config = _read_config(folder)
            if folder.is_dir() and config is not None:
                rewrite_card(
                    folder,
                    card_inputs(
                        name,
                        version,
                        dict(entry),
                        config,
                        self.aliases_of(name, version),
                        self.root.as_posix(),
                    ),
                )

    def _entry(
        self, release: Release, folder: str, exports: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        target = parent_target(release.lineage.get("parent"), self)
        return {
            "path": folder,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "created_unix": time.time(),
            "checksum": release.checksum,
            "source": str(release.source.resolve()),
            "run_id": release.lineage.get("run_id"),
            "run_dir": str(release.run_dir.resolve()) if release.run_dir else None,
            "architecture": (release.config.get("model") or {}).get("architecture"),
            "task": release.spec.get("task"),
            "parameters": release.parameters,
            "epoch": release.epoch,
            "global_step": release.step,
            "metrics": release.metrics,
            "test": release.test,
            "parent": target[1] if target and target[0] == "registry" else None,
            "lineage": release.lineage,
            "input_spec": release.spec,
            "run": release.run,
            "exports": [export_summary(e) for e in exports],
        }


def record_export(checkpoint: str | Path, report: Mapping[str, Any]) -> str | None:
    """The hook ``--export`` calls: when the exported checkpoint is a registered version's
    ``checkpoint.pth``, its verification figures go into registry.json and the model card."""
    root = Path(checkpoint).resolve().parent.parent
    if not (root / "registry.json").is_file():
        return None
    return Registry(root).record_export(checkpoint, report)


def _evaluate(release: Release) -> None:
    test_path = (release.config.get("data") or {}).get("test_path")
    if not test_path:
        return

    try:
        result = evaluate_checkpoint(release.source, str(test_path))
    except TrainforgeError as exc:
        release.notes.append(f"test set not evaluated: {exc}")
        return
    release.test = {
        "data": result["data"],
        "samples": result["num_samples"],
        "metrics": {f"test_{k}": float(v) for k, v in result["metrics"].items()},
    }


def _read_config(folder: Path) -> dict[str, Any] | None:
    import yaml

    try:
        data = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def load_export_report(path: str | Path) -> dict[str, Any]:
    """An export's sidecar JSON (``<export>.json``) for ``--register --export_report``."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--export_report {file} does not exist; check the path") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--export_report {file} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--export_report {file} is not a JSON object")
    return data


__all__ = [
    "LATEST",
    "Registry",
    "check_alias",
    "check_name",
    "load_export_report",
    "record_export",
]
