"""``trainforge verify-resume``: kill-and-resume check of a user's own config."""

from __future__ import annotations

import argparse

from trainforge.cli.common import flag, overrides_flag
from trainforge.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--config", metavar="FILE", required=True, help="training config (YAML)")
    flag(parser, "--kills", type=int, default=3, metavar="N", help="SIGKILLs (default 3)")
    flag(parser, "--seed", type=int, default=0, metavar="S", help="seed of the kill moments")
    flag(
        parser,
        "--output",
        metavar="DIR",
        default="verify_resume",
        help="where the two runs go (DIR/reference, DIR/interrupted; default ./verify_resume)",
    )
    overrides_flag(parser, " for both runs")


def run(args: argparse.Namespace) -> int:
    from trainforge.config import load_config

    if args.kills < 1:
        raise UsageError(f"--kills must be at least 1, got {args.kills}")
    # Fail fast on a bad config, before two training processes start.
    load_config(args.config, args.overrides).require_data(args.config)

    from trainforge.verify import describe, verify_resume

    report = verify_resume(
        args.config,
        kills=args.kills,
        seed=args.seed,
        output=args.output,
        overrides=args.overrides,
        echo=lambda line: print(line, flush=True),
    )
    print(describe(report))
    return 0 if report.match else 1
