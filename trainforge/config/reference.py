"""The config reference as Markdown, generated from the schema so the README cannot drift."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from trainforge.config.schema import TrainConfig


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return ""
    else:
        value = field.default
    return "`" + json.dumps(value) + "`" if value is not None else "`null`"


def reference_markdown(schema: type[BaseModel] = TrainConfig, prefix: str = "") -> str:
    """One table per section: key, default, meaning (keys start with ``prefix``)."""
    out: list[str] = []

    def section(model: type[BaseModel], prefix: str) -> None:
        rows = []
        nested = []
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                nested.append((f"{prefix}{name}", ann))
                continue
            meaning = (field.description or "").replace("|", "\\|")
            rows.append(f"| `{prefix}{name}` | {_default(field)} | {meaning} |")
        if rows:
            title = prefix.rstrip(".") or "top level"
            out.append(f"#### `{title}`\n\n| key | default | meaning |\n|---|---|---|")
            out.extend(rows)
            out.append("")
        for path, sub in nested:
            section(sub, f"{path}.")

    section(schema, prefix)
    return "\n".join(out).rstrip() + "\n"


def tuning_reference_markdown() -> str:
    """The tuning config's reference: its sections, then one search-space parameter."""
    from trainforge.config.tuning import ParamSpec, TuneConfig

    return (
        reference_markdown(TuneConfig) + "\n" + reference_markdown(ParamSpec, "search_space.NAME.")
    )
