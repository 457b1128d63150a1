"""``trainforge monitor`` (training_monitor.py): watch, analyze, plot curves, compare runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainforge.cli.common import flag
from trainforge.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    modes = parser.add_mutually_exclusive_group(required=True)
    flag(modes, "--watch", action="store_true", help="live terminal view of a run (--log_dir)")
    flag(
        modes,
        "--analyze",
        action="store_true",
        help="HTML diagnostics report of a run (--checkpoint_dir RUN --output F.html)",
    )
    flag(
        modes,
        "--plot_curves",
        action="store_true",
        help="learning curves PNG of a metrics log (--log_file F --output F.png)",
    )
    flag(
        modes,
        "--compare",
        nargs="+",
        metavar="RUN",
        help="overlay several runs (or a study folder) with their config differences",
    )
    flag(parser, "--log_dir", metavar="DIR", help="--watch: the run's logs folder (RUN/logs)")
    flag(parser, "--refresh", type=float, default=30.0, metavar="S", help="--watch: seconds")
    flag(parser, "--once", action="store_true", help="--watch: draw one frame and exit")
    flag(parser, "--checkpoint_dir", metavar="RUN", help="--analyze: the run folder")
    flag(parser, "--log_file", metavar="FILE", help="--plot_curves: a metrics.json")
    flag(parser, "--output", metavar="FILE", help="report, figure or comparison to write")


def run(args: argparse.Namespace) -> int:
    from trainforge import monitor

    if args.watch:
        log_dir = _need(args.log_dir or args.checkpoint_dir, "--watch", "--log_dir RUN/logs")
        if args.refresh <= 0:
            raise UsageError(f"--refresh must be a positive number of seconds, got {args.refresh}")
        path = Path(log_dir)
        if not (path / "metrics.json").exists() and (path / "logs").is_dir():
            path = path / "logs"  # a run folder works too
        return monitor.watch(path, args.refresh, once=args.once)
    if args.analyze:
        run_dir = _need(args.checkpoint_dir or args.log_dir, "--analyze", "--checkpoint_dir RUN")
        output = args.output or "diagnostics.html"
        verdicts = monitor.analyze(run_dir, output)
        for v in verdicts:
            print(f"{v.question:<14} {v.answer:<8} {v.summary}")
        print(f"report: {output}")
        return 0
    if args.plot_curves:
        log_file = args.log_file
        if log_file is None and args.log_dir:
            log_file = str(Path(args.log_dir) / "metrics.json")
        log_file = _need(log_file, "--plot_curves", "--log_file RUN/logs/metrics.json")
        output = args.output or "curves.png"
        log = monitor.plot_curves(log_file, output)
        torn = " (last line incomplete, left out)" if log.torn else ""
        print(f"curves: {output} from {log.records} records{torn}")
        return 0
    output = args.output or "compare.html"
    print(monitor.compare(args.compare, output))
    print(f"comparison: {output}")
    return 0


def _need(value: str | None, mode: str, example: str) -> str:
    if not value:
        raise UsageError(f"{mode} needs {example}")
    return value
