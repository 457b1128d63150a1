"""``--compare``: several runs' curves overlaid, and how their configs differ.

A folder that is not a run itself (a tuning study's output) stands for the run folders
inside it, so one argument compares every trial.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from trainforge.errors import LogError
from trainforge.health.series import column, length
from trainforge.monitor import _plots
from trainforge.monitor._run import RunFolder, load_run_log, open_run

_METRICS = ("val_loss", "train_loss", "val_accuracy", "val_f1", "val_rmse", "val_r2")


def expand(paths: list[Path]) -> list[Path]:
    """Run folders: each path that holds a metrics log, else its sub-folders that do."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise LogError(f"no run folder at {path}; pass training run folders to --compare")
        if _is_run(path):
            found.append(path)
            continue
        inner = sorted(p.parent for p in path.glob("*/metadata.json") if _is_run(p.parent))
        inner += sorted(p.parent for p in path.glob("*/*/metadata.json") if _is_run(p.parent))
        if not inner:
            raise LogError(f"{path} holds no training runs (no logs/metrics.json inside)")
        found.extend(inner)
    return list(dict.fromkeys(found))


def _is_run(path: Path) -> bool:
    return (path / "metadata.json").exists() or (path / "logs" / "metrics.json").exists()


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def config_differences(configs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Dotted keys whose values are not the same in every config (provenance left out)."""
    flat = [flatten({k: v for k, v in c.items() if k != "provenance"}) for c in configs]
    keys = sorted({k for f in flat for k in f})
    missing = object()
    out = {}
    for key in keys:
        values = [f.get(key, missing) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out[key] = [None if v is missing else v for v in values]
    return out


def compare(paths: list[Path]) -> tuple[Any, list[RunFolder], dict[str, list[Any]]]:
    """The overlay figure, the runs, and their config differences."""
    runs = [open_run(p) for p in expand(paths)]
    if len(runs) < 2:
        raise LogError("--compare needs at least two runs (or a folder holding several)")
    logs = [load_run_log(r) for r in runs]
    names = _labels(runs)
    panels = []
    for metric in _METRICS:
        lines = []
        for name, log in zip(names, logs, strict=True):
            series = log.series
            table = series.epochs if length(series.epochs) and metric in series.epochs else None
            if table is not None:
                x = column(table, "epoch")
            elif length(series.validations) and metric in series.validations:
                table = series.validations
                x = _plots.step_to_epoch(series, column(table, "step"))
            else:
                continue
            if np.isfinite(table[metric]).any():
                lines.append(_plots.Line(name, x, table[metric], marker="o"))
        if lines:
            panels.append(_plots.Panel(metric, lines))
    figure = _plots.draw(panels, title=f"{len(runs)} runs")
    return figure, runs, config_differences([r.config for r in runs])


def _labels(runs: list[RunFolder]) -> list[str]:
    names = [r.path.name for r in runs]
    if len(set(names)) == len(names):
        return names
    return [str(r.path) for r in runs]


def compare_html(figure: Any, runs: list[RunFolder], diffs: dict[str, list[Any]]) -> str:
    png = base64.b64encode(_plots.png_bytes(figure)).decode("ascii")
    names = _labels(runs)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    finals = "".join(f"<td>{escape(_final(r))}</td>" for r in runs)
    rows = "".join(
        f"<tr><th>{escape(key)}</th>"
        + "".join(f"<td>{escape(str(v))}</td>" for v in values)
        + "</tr>"
        for key, values in diffs.items()
    )
    if not diffs:
        rows = f"<tr><td colspan='{len(runs) + 1}'>the configs are identical</td></tr>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>trainforge: run comparison</title><style>body{font-family:system-ui,sans-serif;"
        "margin:2em auto;padding:0 1em;max-width:1300px}table{border-collapse:collapse}td,th{border:1px solid "
        "#ddd;padding:3px 8px;text-align:left;font-size:14px}img{max-width:100%}</style></head>"
        f"<body><h1>Run comparison</h1><img alt='curves' src='data:image/png;base64,{png}'>"
        f"<h2>Results</h2><table><tr><th>run</th>{head}</tr><tr><th>status, best</th>{finals}"
        f"</tr></table><h2>Config differences</h2><table><tr><th>key</th>{head}</tr>{rows}"
        "</table></body></html>"
    )


def _final(run: RunFolder) -> str:
    meta = run.metadata
    best = meta.get("best_metric") or {}
    value = best.get("value") if isinstance(best, dict) else None
    shown = f"{value:.4g}" if isinstance(value, (int, float)) else "?"
    return f"{meta.get('status', '?')}, {best.get('name', '?') if isinstance(best, dict) else '?'} {shown}"


def differences_text(runs: list[RunFolder], diffs: dict[str, list[Any]]) -> str:
    names = _labels(runs)
    if not diffs:
        return "the configs are identical"
    lines = ["config differences: " + " | ".join(names)]
    lines += [f"  {key}: " + " | ".join(str(v) for v in values) for key, values in diffs.items()]
    return "\n".join(lines)
