"""``trainforge predict``: class, class name and probabilities (or values) for each input."""

from __future__ import annotations

import argparse

from trainforge._fileio import describe_missing
from trainforge.cli.common import flag, trust_flag
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
    trust_flag(parser)
    flag(parser, "--force", action="store_true", help="replace an existing --output file")


def run(args: argparse.Namespace) -> int:
    require_file(args.checkpoint, args.input)  # before torch loads: a typo fails in a blink
    from trainforge.predict import predict_file

    summary = predict_file(
        args.checkpoint,
        args.input,
        args.output,
        args.batch_size,
        trust_model_code=args.trust_model_code,
        force=args.force,
    )
    print(f"wrote {summary['rows']} predictions to {summary['output']}")
    return 0


def require_file(checkpoint: str, data: str | None) -> None:
    """The checks that need no torch: the checkpoint and the data path exist."""
    from pathlib import Path

    if not Path(checkpoint).exists():
        raise CheckpointError(f"checkpoint {describe_missing(Path(checkpoint))}")
    if data is not None and not data.startswith("builtin:") and not Path(data).exists():
        raise DataError(
            f"{describe_missing(Path(data))}; give a CSV file, an image folder or builtin:NAME"
        )
