"""``model_card.md``: Hugging Face model-card front matter, then prose a reader can act on.

``render_card`` is a pure function of ``CardInputs``, so the registry can re-render a card
when something is added later (an export's verification figures).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from trainforge.config.metrics import base_name

_HYPERPARAMETERS = (
    ("training", "epochs"),
    ("training", "optimizer"),
    ("training", "learning_rate"),
    ("training", "weight_decay"),
    ("data", "batch_size"),
    ("training", "gradient_accumulation_steps"),
    ("training", "mixed_precision"),
    ("training", "label_smoothing"),
    ("training", "gradient_clip"),
    ("lr_scheduler", "type"),
    ("lr_scheduler", "warmup_epochs"),
    ("early_stopping", "enabled"),
    ("early_stopping", "metric"),
    ("reproducibility", "seed"),
)


@dataclass
class CardInputs:
    name: str
    version: str
    config: Mapping[str, Any]
    spec: Mapping[str, Any]
    metrics: Mapping[str, float]
    epoch: int | None = None
    step: int | None = None
    parameters: int | None = None
    created: str | None = None
    parent: str | None = None  # "NAME@VERSION" when registered here, else a description
    lineage: Mapping[str, Any] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)  # the run's metadata.json
    test: Mapping[str, Any] | None = None  # {"data", "samples", "metrics"}
    exports: list[Mapping[str, Any]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    registry: str = "models"  # the folder, for the loading example


def task_tag(spec: Mapping[str, Any]) -> str:
    kind = "image" if spec.get("kind") == "image" else "tabular"
    return f"{kind}-{spec.get('task') or 'classification'}"


def front_matter(c: CardInputs) -> dict[str, Any]:
    data = c.config.get("data") or {}
    datasets = list(dict.fromkeys(p for p in (data.get("train_path"), data.get("test_path")) if p))
    architecture = (c.config.get("model") or {}).get("architecture")
    meta: dict[str, Any] = {
        "name": c.name,
        "version": c.version,
        "library": "trainforge",
        "library_name": "trainforge",
        "architecture": architecture,
        "pipeline_tag": task_tag(c.spec),
        "tags": [t for t in ("trainforge", "pytorch", task_tag(c.spec), architecture) if t],
        "datasets": datasets,
        "metrics": sorted({base_name(m) for m in _quality(c.metrics)}),
    }
    if c.parent:
        meta["base_model"] = c.parent
    meta["model-index"] = [{"name": f"{c.name}@{c.version}", "results": _results(c)}]
    if c.exports:
        meta["export_verification"] = [export_summary(e) for e in c.exports]
    return meta


def _results(c: CardInputs) -> list[dict[str, Any]]:
    data = c.config.get("data") or {}
    splits = [("validation", data.get("val_path") or data.get("train_path"), _val(c.metrics))]
    if c.test:
        splits.append(("test", c.test.get("data"), dict(c.test.get("metrics") or {})))
    out = []
    for split, source, metrics in splits:
        if not metrics:
            continue
        out.append(
            {
                "task": {"type": task_tag(c.spec)},
                "dataset": {"name": str(source), "type": str(source), "split": split},
                "metrics": [
                    {"type": base_name(k), "name": k, "value": round(float(v), 6)}
                    for k, v in sorted(metrics.items())
                ],
            }
        )
    return out


def export_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The card's view of an export sidecar (verification figures may sit at the top level or
    under ``verification``)."""
    verification = report.get("verification")
    checked: Mapping[str, Any] = verification if isinstance(verification, Mapping) else report
    files = report.get("files")
    output = report.get("file") or report.get("output") or (files[0] if files else None)
    summary = {
        "format": report.get("format"),
        "file": str(output) if output is not None else None,
        "max_abs_diff": checked.get("max_abs_diff"),
        "batch_sizes": checked.get("batch_sizes"),
        "runtime": checked.get("runtime"),
        "passed": checked.get("passed"),
    }
    return {k: v for k, v in summary.items() if v is not None}


def _quality(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k != "lr"}


def _val(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k.startswith("val_")}


def render_card(c: CardInputs) -> str:
    header = _yaml(front_matter(c), flow=False)
    sections = [
        f"---\n{header}\n---\n",
        f"# {text(c.name)} v{text(c.version)}\n",
        _details(c),
        _intended_use(c),
        _training(c),
        _evaluation(c),
        _lineage(c),
        _limitations(c),
    ]
    return "\n".join(sections).rstrip() + "\n"


def _yaml(data: Any, *, flow: bool) -> str:
    """YAML that never wraps long values: a wrapped line would break the table or header.
    Strings with newlines come out quoted with escapes, so no line can read as ``---``."""
    return yaml.dump(
        data,
        Dumper=_OneLineDumper,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
        default_flow_style=flow,
    ).strip()


class _OneLineDumper(yaml.SafeDumper):
    """Strings holding line breaks are written double-quoted with ``\\n`` escapes."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(ch in value for ch in "\n\r\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_OneLineDumper.add_representer(str, _represent_str)


def _table(rows: list[tuple[str, Any]], head: tuple[str, str] = ("", "")) -> str:
    lines = [f"| {text(head[0])} | {text(head[1])} |", "|---|---|"]
    lines += [f"| {text(_fmt(k))} | {text(_fmt(v))} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def text(value: Any) -> str:
    """Any value as inert card text for a table cell or a line of prose: HTML escaped (a
    ``<script>`` shows as text), table pipes escaped, line breaks folded into spaces, so a
    value from a config or a checkpoint can neither end its cell nor start a line of its own."""
    escaped = html.escape(str(value), quote=False).replace("|", "\\|").replace("`", "&#96;")
    return " ".join(escaped.split()) if escaped.strip() else escaped.strip()


def _code(value: Any) -> str:
    """``value`` as inline code, inert like ``text``."""
    return f"`{text(value)}`"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if value is None:
        return "-"
    return str(value)


def _details(c: CardInputs) -> str:
    model = c.config.get("model") or {}
    classes = c.spec.get("class_names") or []
    shown = ", ".join(classes[:20]) + (f" (+{len(classes) - 20} more)" if len(classes) > 20 else "")
    rows: list[tuple[str, Any]] = [
        ("architecture", model.get("architecture")),
        ("parameters", f"{c.parameters:,}" if c.parameters is not None else None),
        ("task", c.spec.get("task")),
        ("input", f"{c.spec.get('kind')} {c.spec.get('shape')} ({c.spec.get('source_format')})"),
        ("classes", shown or None),
        ("registered", c.created),
        ("aliases", ", ".join(c.aliases) or None),
        ("run id", c.lineage.get("run_id")),
    ]
    return "## Model details\n\n" + _table(rows, ("field", "value"))


def _intended_use(c: CardInputs) -> str:
    what = "classify" if c.spec.get("task") == "classification" else "predict a value for"
    loadable = f"{c.registry}/{c.name}_v{c.version}/checkpoint.pth"
    return (
        "## Intended use\n\n"
        f"Trained to {what} inputs like those of {_code((c.config.get('data') or {}).get('train_path'))}."
        " The checkpoint carries its preprocessing: give it inputs as they appear in the data "
        "files (raw pixel values, CSV feature columns).\n\n"
        "```python\nimport trainforge\n"
        f"model = trainforge.load_model({json.dumps(loadable)})\n```\n"
        f"Other trainforge runs can start from it with "
        f"{_code(f'model.pretrained: registry:{c.name}@{c.version}')}.\n"
    )


def _training(c: CardInputs) -> str:
    data = c.config.get("data") or {}
    source = [
        ("training data", data.get("train_path") or data.get("source")),
        (
            "validation data",
            data.get("val_path") or f"{data.get('val_split')} of the training data",
        ),
        ("data hash (sha256)", c.lineage.get("data_hash")),
    ]
    hyper = [(f"{s}.{k}", str((c.config.get(s) or {}).get(k))) for s, k in _HYPERPARAMETERS]
    system = c.run.get("system") or {}
    gpus = system.get("gpus") or []
    hardware = ", ".join(str(g.get("name", g)) if isinstance(g, dict) else str(g) for g in gpus)
    run = [
        ("epochs completed at this checkpoint", c.epoch),
        ("optimizer steps", c.step),
        ("run duration (s)", c.run.get("duration_s")),
        ("started", c.run.get("start_time")),
        ("device", c.run.get("device")),
        ("hardware", hardware or system.get("cpu_model")),
        ("torch", (c.run.get("versions") or {}).get("torch")),
    ]
    return (
        "## Training data\n\n"
        + _table(source, ("item", "value"))
        + "\n## Training procedure\n\n"
        + _table(hyper, ("hyperparameter", "value"))
        + "\n"
        + _table(run, ("run", "value"))
    )


def _evaluation(c: CardInputs) -> str:
    parts = ["## Evaluation\n"]
    val = _val(c.metrics)
    if val:
        parts.append("Validation metrics at this checkpoint:\n\n" + _table(sorted(val.items())))
    if c.test:
        parts.append(
            f"Test set {_code(c.test.get('data'))} ({text(c.test.get('samples'))} samples):\n\n"
            + _table(sorted((c.test.get("metrics") or {}).items()))
        )
    else:
        parts.append("Not evaluated on a held-out test set (the config has no `data.test_path`).\n")
    if c.exports:
        rows = []
        for report in c.exports:
            e = export_summary(report)
            verdict = "passed" if e.get("passed", True) else "FAILED"
            rows.append(
                (
                    f"{e.get('format')} ({e.get('file')})",
                    f"max abs diff {_fmt(e.get('max_abs_diff'))} at batch sizes "
                    f"{e.get('batch_sizes')}, {verdict}",
                )
            )
        parts.append("Exports, verified against the PyTorch model:\n\n" + _table(rows))
    return "\n".join(parts)


def _lineage(c: CardInputs) -> str:
    resumed = c.lineage.get("resumed_from") or {}
    provenance = c.lineage.get("provenance")
    rows: list[tuple[str, Any]] = [
        ("parent", c.parent or "none (trained from scratch)"),
        ("resumed from", resumed.get("path") if isinstance(resumed, dict) else None),
        (
            "provenance",
            _yaml(provenance, flow=True) if provenance else None,
        ),
    ]
    return "## Lineage\n\n" + _table(rows, ("link", "value"))


def _limitations(c: CardInputs) -> str:
    notes = [
        "Figures come from the data listed above; accuracy on data from another source, "
        "sensor or population can be much lower.",
        "Inputs must have the shape and scale of the training data; the model does not "
        "detect inputs unlike anything it was trained on.",
    ]
    if not c.test:
        notes.append(
            "Without a test set, the validation figures also chose this checkpoint, "
            "so they are optimistic."
        )
    return "## Limitations\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


__all__ = ["CardInputs", "export_summary", "front_matter", "render_card", "task_tag"]
