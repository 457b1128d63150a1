"""``trainforge train`` / training_orchestrator.py."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from trainforge.cli.common import flag, overrides_flag
from trainforge.cli.launch import launch
from trainforge.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "--config", metavar="FILE", help="training config (YAML)")
    flag(parser, "--seed", type=int, help="random seed (overrides reproducibility.seed)")
    flag(parser, "--output", metavar="DIR", help="run folder (default runs/run-<time>)")
    flag(parser, "--resume", metavar="CKPT", help="checkpoint, run folder, or 'auto' to continue")
    overrides_flag(parser)
    flag(parser, "--device", help="auto, cpu, cuda or cuda:N (overrides training.device)")
    flag(
        parser,
        "--fast_dev_run",
        action="store_true",
        help="run 3 training and 2 validation batches of one epoch to check a config",
    )
    flag(parser, "--overwrite", action="store_true", help="replace an existing run folder")
    flag(
        parser,
        "--distributed",
        action="store_true",
        help="data-parallel training in --n_gpus processes on this node (gloo on CPU)",
    )
    flag(parser, "--n_gpus", type=int, help="processes (GPUs) per node for --distributed")
    flag(parser, "--nnodes", type=int, help="nodes of a multi-node --distributed run (default 1)")
    flag(parser, "--node_rank", type=int, help="this node's number, 0..nnodes-1 (default 0)")
    flag(parser, "--master_addr", help="node 0's address (default 127.0.0.1)")
    flag(parser, "--master_port", type=int, help="node 0's port (default: a free one)")


def run(args: argparse.Namespace) -> int:
    from trainforge.config import load_config

    launcher_only = [args.n_gpus, args.nnodes, args.node_rank, args.master_addr, args.master_port]
    # A worker's environment says it is one already: it never launches again.
    launching = args.distributed and not _in_worker()
    if not args.distributed and any(v is not None for v in launcher_only):
        raise UsageError("--n_gpus and the multi-node flags need --distributed; add it")
    if args.config is None and args.resume is None:
        raise UsageError("give --config FILE (or --resume CKPT to continue a run)")
    if args.config is not None and args.resume is None:
        # Fail fast, before torch loads (and once, not in every worker).
        load_config(args.config, args.overrides, seed=args.seed).require_data(args.config)
    if launching:
        return launch(args, list(args._command_line))

    from trainforge.train.fit import fit

    result = fit(
        args.config,
        args.overrides,
        output=args.output,
        seed=args.seed,
        resume=args.resume,
        overwrite=args.overwrite,
        device=args.device,
        fast_dev_run=args.fast_dev_run,
        argv=[Path(sys.argv[0]).name, *sys.argv[1:]],
    )
    if os.environ.get("RANK", "0") != "0":  # rank 0 speaks for a distributed run
        return result.exit_code
    print(f"run folder: {result.run_dir}")
    print(
        f"status: {result.status} ({result.stop_reason}) after {result.epochs_completed} epoch(s)"
    )
    for name in ("val_accuracy", "val_loss", "val_mse"):
        if name in result.final_metrics:
            print(f"final {name}: {result.final_metrics[name]:.4f}")
    if result.best_value is not None:
        print(f"best {result.best_metric}: {result.best_value:.4f} ({result.best_checkpoint})")
    return result.exit_code


def _in_worker() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
