"""``trainforge predict``: class, class name and probabilities (or values) for each input."""

from __future__ import annotations

import argparse

from trainforge.cli.common import flag
from trainforge.errors import CheckpointError, DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--checkpoint", required=True, metavar="FILE", help="trainforge checkpoint")
    flag(
        parser,
        "--input",
        required=True,
        metavar="PATH",
        help="CSV file (labels optional), image folder (flat or class subfolders) or builtin:NAME",
    )
    flag(parser, "--output", required=True, metavar="FILE", help="predictions CSV to write")
    flag(parser, "--batch_size", type=int, default=256, metavar="N", help="rows per forward pass")


def run(args: argparse.Namespace) -> int:
    require_file(args.checkpoint, args.input)  # before torch loads: a typo fails in a blink
    from trainforge.predict import predict_file

    summary = predict_file(args.checkpoint, args.input, args.output, args.batch_size)
    print(f"wrote {summary['rows']} predictions to {summary['output']}")
    return 0


def require_file(checkpoint: str, data: str | None) -> None:
    """The checks that need no torch: the checkpoint and the data path exist."""
    from pathlib import Path

    if not Path(checkpoint).exists():
        raise CheckpointError(f"checkpoint {checkpoint} does not exist")
    if data is not None and not data.startswith("builtin:") and not Path(data).exists():
        raise DataError(f"{data} does not exist; give a CSV file, an image folder or builtin:NAME")
