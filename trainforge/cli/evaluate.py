"""``trainforge evaluate``: a checkpoint's metrics, per-class figures and confusion matrix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trainforge._fileio import atomic_write_text
from trainforge.cli.common import flag, trust_flag
from trainforge.cli.predict import require_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--checkpoint", required=True, metavar="FILE", help="trainforge checkpoint")
    flag(
        parser,
        "--data",
        metavar="PATH",
        help="labelled CSV, image folder or builtin:NAME (default: the config's data.test_path)",
    )
    flag(parser, "--output", metavar="FILE", help="write all figures as JSON")
    flag(parser, "--plot", metavar="FILE", help="write the confusion matrix as a PNG")
    flag(parser, "--batch_size", type=int, default=256, metavar="N", help="rows per forward pass")
    trust_flag(parser)
    flag(parser, "--force", action="store_true", help="replace existing --output/--plot files")


def run(args: argparse.Namespace) -> int:
    require_file(args.checkpoint, args.data)  # before torch loads: a typo fails in a blink
    _guard_outputs(args)
    from trainforge.evaluate import evaluate_checkpoint, plot_confusion_matrix

    result = evaluate_checkpoint(
        args.checkpoint, args.data, args.batch_size, trust_model_code=args.trust_model_code
    )
    print(f"{args.checkpoint} on {result['data']} ({result['num_samples']} samples)")
    for notice in result["notices"]:
        print(f"note: {notice}")
    print(_table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in result["metrics"].items()]))
    if "per_class" in result:
        print()
        rows = [
            [
                c["class"],
                f"{c['precision']:.4f}",
                f"{c['recall']:.4f}",
                f"{c['f1']:.4f}",
                c["support"],
            ]
            for c in result["per_class"]
        ]
        print(_table(["class", "precision", "recall", "f1", "support"], rows))
        print()
        print("confusion matrix (rows: true class, columns: predicted class)")
        names = [_short(n) for n in result["class_names"]]
        matrix = result["confusion_matrix"]
        print(_table(["", *names], [[n, *row] for n, row in zip(names, matrix, strict=True)]))
    if args.output:
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(result, indent=2) + "\n")
        print(f"wrote {target}")
    if args.plot:
        if "confusion_matrix" not in result:
            print("note: --plot skipped: a regression model has no confusion matrix")
        else:
            title = f"{Path(args.checkpoint).name} on {Path(result['data']).name}"
            path = plot_confusion_matrix(
                result["confusion_matrix"], result["class_names"], args.plot, title
            )
            print(f"wrote {path}")
    return 0


def _guard_outputs(args: argparse.Namespace) -> None:
    from trainforge._outputs import guard_output, is_evaluation_json, is_own_png

    inputs = [args.checkpoint, args.data]
    if args.output:
        guard_output(args.output, inputs=inputs, own=is_evaluation_json, force=args.force)
    if args.plot:
        inputs.append(args.output)
        guard_output(args.plot, flag="--plot", inputs=inputs, own=is_own_png, force=args.force)


def _short(name: str, width: int = 12) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    """Plain aligned columns: first left-aligned, the rest right-aligned."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])]
        parts += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
