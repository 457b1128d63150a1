"""YAML in, typed config out: loading, ``--set`` overrides and errors that say where and why.

Precedence: ``--set`` overrides > the ``--seed`` flag > the file > defaults.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from trainforge._fileio import describe_missing
from trainforge.config.schema import TrainConfig
from trainforge.errors import ConfigError, shown

M = TypeVar("M", bound=BaseModel)

LineMap = dict[tuple[str, ...], int]


def load_yaml(path: str | Path) -> tuple[dict[str, Any], LineMap]:
    """Read a YAML mapping and remember the line of every key (for error messages)."""
    path = Path(path)
    if not path.is_file():
        if not (path.exists() or path.is_symlink()):
            raise ConfigError(f"config file not found: {path} (check the --config path)")
        raise ConfigError(f"config file {describe_missing(path)} (check the --config path)")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is {size:,} bytes, too large for a training config (at most "
            f"{MAX_CONFIG_BYTES:,}); is it a data file? pass the YAML config"
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file; pass a YAML config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem}); fix the syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of sections (model:, data:, ...), "
            f"not a {type(data).__name__}"
        )
    if node is not None and _expanded_size(node, {}) > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"{path}: the config expands to more than {MAX_CONFIG_VALUES:,} values through YAML "
            "aliases (&/*); write the values out instead"
        )
    lines: LineMap = {}
    if node is not None:
        _collect_lines(node, (), lines, path)
    return data, lines


# A training config is a few kilobytes; reading (and YAML-parsing) a large file costs seconds
# per megabyte before it could be refused for its content.
MAX_CONFIG_BYTES = 1 << 20


# A training config has a few hundred values; nested YAML aliases can make a tiny file expand
# to billions when something walks it (the "billion laughs" file).
MAX_CONFIG_VALUES = 100_000


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded (shared nodes once)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once instead of looping
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, memo) for item in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def _collect_lines(node: yaml.Node, prefix: tuple[str, ...], out: LineMap, path: Path) -> None:
    """Record each key's line; a key given twice in one mapping is an error (YAML would keep
    the second silently, and the first is usually the one the user meant to edit)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key in out:
                raise ConfigError(
                    f"{path}: {'.'.join(key)} is given twice (lines {out[key]} and {line}); "
                    "keep one"
                )
            out[key] = line
            _collect_lines(value_node, key, out, path)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``training.learning_rate=3e-4`` -> (['training', 'learning_rate'], 0.0003)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {text!r} is not of the form section.key=value "
            "(for example --set training.learning_rate=3e-4)"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str] | Mapping[str, Any]) -> None:
    """Apply ``--set`` overrides (strings or a mapping of dotted keys) to a raw config dict."""
    items = (
        [(k.split("."), v) for k, v in overrides.items()]
        if isinstance(overrides, Mapping)
        else [parse_override(o) for o in overrides]
    )
    for path, value in items:
        target = data
        for i, part in enumerate(path[:-1]):
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                dotted = ".".join(path[: i + 1])
                raise ConfigError(f"--set {'.'.join(path)}: {dotted} is not a section")
            target = nxt
        target[path[-1]] = value


def validate(
    data: Mapping[str, Any],
    schema: type[M] = TrainConfig,  # type: ignore[assignment]
    *,
    source: str = "config",
    lines: LineMap | None = None,
) -> M:
    """Validate a raw mapping; every problem is named with its key path, line and a fix."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(err, schema, lines or {}) for err in exc.errors()]
        head = f"invalid config {source}: " if source else "invalid config: "
        raise ConfigError(head + "; ".join(problems)) from None


def load_config(
    path_or_data: str | Path | Mapping[str, Any],
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
) -> TrainConfig:
    """The one way a training config is made: file or mapping, then --seed, then --set."""
    if isinstance(path_or_data, Mapping):
        data, source = _deepcopy(path_or_data), ""
        lines: LineMap = {}
    else:
        data, lines = load_yaml(path_or_data)
        source = str(path_or_data)
    if seed is not None:
        data.setdefault("reproducibility", {})
        if not isinstance(data["reproducibility"], dict):
            raise ConfigError(f"{source}: reproducibility must be a mapping")
        data["reproducibility"]["seed"] = seed
    if overrides:
        apply_overrides(data, overrides)
    return validate(data, TrainConfig, source=source, lines=lines)


def _deepcopy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML, in schema order."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _describe(err: Mapping[str, Any], schema: type[BaseModel], lines: LineMap) -> str:
    loc = tuple(str(p) for p in err["loc"])
    where = ".".join(loc) or "config"
    line = _line_of(loc, lines)
    at = f"{where} (line {line})" if line else where
    kind = err["type"]
    if kind == "extra_forbidden":
        choices = _fields_at(schema, loc[:-1])
        hint = difflib.get_close_matches(loc[-1], choices, n=1, cutoff=0.6)
        fix = f"did you mean '{hint[0]}'?" if hint else f"valid keys: {', '.join(choices)}"
        return f"{at}: unknown key; {fix}"
    if kind == "missing":
        return f"{at}: required"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if loc:
        value = err.get("input")
        return f"{at}: {msg} (got {'a mapping' if isinstance(value, dict) else shown(value)})"
    return msg


def _line_of(loc: Sequence[str], lines: LineMap) -> int | None:
    for n in range(len(loc), 0, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return None


def _fields_at(schema: type[BaseModel], loc: Sequence[str]) -> list[str]:
    model: Any = schema
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
    return list(getattr(model, "model_fields", {}))
