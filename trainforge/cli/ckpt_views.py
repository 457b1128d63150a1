"""How ``trainforge ckpt`` shows things: tables (rich on a terminal, aligned text otherwise),
JSON and CSV. No decisions here."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from trainforge.ckpt.catalog import CatalogEntry, metric_columns


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None
) -> None:
    """A rich table when stdout is a terminal; plain aligned columns otherwise (pipes, files)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold")
        for i, header in enumerate(headers):
            # The first column names the thing (a file, a model): never broken over lines.
            table.add_column(header, overflow="fold", no_wrap=i == 0)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    print(aligned(headers, rows, title))


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.3g}"
    return str(value)


def fmt_size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def fmt_time(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t is not None else "-"


# ---------------------------------------------------------------------------- --list
def show_catalog(entries: list[CatalogEntry], fmt: str, folder: str) -> None:
    if fmt == "json":
        print_json({"checkpoint_dir": folder, "checkpoints": [e.as_dict() for e in entries]})
        return
    metrics = metric_columns(entries)
    headers = ["file", "epoch", "step", *metrics, "size", "time", "checksum", "tags"]
    rows = [_catalog_row(e, metrics) for e in entries]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        for e in entries:
            writer.writerow(
                [
                    e.name,
                    e.epoch,
                    e.step,
                    *(e.metrics.get(m) for m in metrics),
                    e.size,
                    fmt_time(e.created or e.modified),
                    e.status,
                    "; ".join(e.tags),
                ]
            )
        print(buffer.getvalue(), end="")
        return
    print_table(headers, rows, title=f"checkpoints in {folder}")
    for e in entries:
        if not e.readable:
            print(f"{e.name}: {e.reason}")


def _catalog_row(e: CatalogEntry, metrics: list[str]) -> list[str]:
    checksum = "ok" if e.readable else e.status.upper()
    return [
        e.name,
        fmt_value(e.epoch),
        fmt_value(e.step),
        *(fmt_value(e.metrics.get(m)) for m in metrics),
        fmt_size(e.size),
        fmt_time(e.created or e.modified),
        checksum,
        compact_tags(e.tags),
    ]


def compact_tags(tags: Sequence[str]) -> str:
    """['last', 'best val_loss', 'best val_f1'] -> 'last; best val_loss, val_f1'."""
    best = [t.removeprefix("best ") for t in tags if t.startswith("best ")]
    other = [t for t in tags if not t.startswith("best ")]
    return "; ".join([*other, *(["best " + ", ".join(best)] if best else [])])


# ---------------------------------------------------------------------------- registry
def models_rows(models: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    from trainforge.ckpt.semver import sort_key

    headers = ["model", "version", "aliases", "created", "architecture", "metric", "test", "parent"]
    rows = []
    for name in sorted(models):
        model = models[name]
        aliases = model.get("aliases") or {}
        for version in sorted(model.get("versions") or {}, key=sort_key):
            entry = model["versions"][version]
            rows.append(
                [
                    name,
                    version,
                    ", ".join(sorted(a for a, v in aliases.items() if v == version)) or "-",
                    str(entry.get("created") or "-"),
                    str(entry.get("architecture") or "-"),
                    headline(entry.get("metrics") or {}),
                    headline(((entry.get("test") or {}).get("metrics")) or {}),
                    str(entry.get("parent") or "-"),
                ]
            )
    return headers, rows


def headline(metrics: Mapping[str, float]) -> str:
    """The one figure a list shows: accuracy for classifiers, loss or mse otherwise."""
    for suffix in ("accuracy", "r2", "mse", "loss"):
        for name in sorted(metrics):
            if name.endswith(f"_{suffix}") and not name.startswith("train_"):
                return f"{name} {fmt_value(metrics[name])}"
    return "-"


def show_entry(name: str, version: str, entry: Mapping[str, Any], aliases: list[str]) -> None:
    lines = [
        f"{name}@{version}",
        f"  folder:       {entry.get('path')}",
        f"  aliases:      {', '.join(aliases) or '-'}",
        f"  created:      {entry.get('created')}",
        f"  architecture: {entry.get('architecture')} ({entry.get('parameters') or 0:,} parameters)",
        f"  checkpoint:   epoch {entry.get('epoch')}, step {entry.get('global_step')}",
        f"  source:       {entry.get('source')}",
        f"  checksum:     {entry.get('checksum')}",
        f"  parent:       {entry.get('parent') or _raw_parent(entry)}",
        f"  run id:       {entry.get('run_id')}",
    ]
    metrics = entry.get("metrics") or {}
    test = entry.get("test") or {}
    for label, values in (("metrics", metrics), ("test", test.get("metrics") or {})):
        if values:
            shown = ", ".join(f"{k} {fmt_value(v)}" for k, v in sorted(values.items()))
            lines.append(f"  {label + ':':<13} {shown}")
    for export in entry.get("exports") or []:
        lines.append(
            f"  export:       {export.get('format')} {export.get('file')} "
            f"max abs diff {fmt_value(export.get('max_abs_diff'))}"
        )
    print("\n".join(lines))


def _raw_parent(entry: Mapping[str, Any]) -> str:
    parent = (entry.get("lineage") or {}).get("parent")
    if isinstance(parent, Mapping):
        return f"{parent.get('path') or parent.get('name')} ({parent.get('kind')}, not registered)"
    return "none (trained from scratch)"


__all__ = [
    "aligned",
    "fmt_value",
    "headline",
    "models_rows",
    "print_json",
    "print_table",
    "show_catalog",
    "show_entry",
]
