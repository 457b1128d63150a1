"""``trainforge ckpt`` / checkpoint_manager.py: one mode flag per verb, as in SPEC.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trainforge.cli.common import flag, trust_flag
from trainforge.errors import TrainforgeError, UsageError

MODES = (
    "save", "load_best", "list", "prune", "export",
    "register", "list_models", "show", "promote", "lineage",
)  # fmt: skip
LIST_FORMATS = ("table", "json", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    flag(mode, "--save", action="store_true", help="build a full checkpoint from state-dict files")
    flag(
        mode,
        "--load_best",
        action="store_true",
        help="the best checkpoint of --checkpoint_dir by --metric",
    )
    flag(
        mode,
        "--list",
        action="store_true",
        help="every checkpoint of --checkpoint_dir with its metrics",
    )
    flag(
        mode,
        "--prune",
        action="store_true",
        help="delete all but the best N and newest M checkpoints",
    )
    flag(mode, "--export", action="store_true", help="export --checkpoint for deployment, verified")
    flag(mode, "--register", action="store_true", help="add --checkpoint to the registry as --name")
    flag(mode, "--list_models", action="store_true", help="every registered model version")
    flag(mode, "--show", metavar="NAME[@VERSION]", help="a registered model or version")
    flag(mode, "--promote", metavar="NAME@VERSION", help="point --alias at this version")
    flag(mode, "--lineage", metavar="NAME@VERSION", help="parents, resumes, provenance, data hash")

    flag(parser, "--model", metavar="FILE", help="--save: model state dict (model.pth)")
    flag(parser, "--optimizer", metavar="FILE", help="--save: optimizer state dict (optional)")
    flag(
        parser, "--config", metavar="FILE", help="--save: the training config the weights belong to"
    )
    flag(parser, "--output", metavar="PATH", help="--save: folder or .pth file; --export: file")
    flag(parser, "--epoch", type=int, default=0, help="--save: epochs already trained (default 0)")
    flag(parser, "--step", type=int, default=0, help="--save: optimizer steps already taken")
    flag(parser, "--checkpoint_dir", metavar="DIR", help="folder of checkpoints (or a run folder)")
    flag(parser, "--checkpoint", metavar="FILE", help="--export / --register: the checkpoint")
    flag(parser, "--metric", metavar="NAME", help="metric to rank by, e.g. val_accuracy")
    flag(
        parser, "--mode", choices=("min", "max"), help="whether lower or higher --metric is better"
    )
    flag(parser, "--format", dest="fmt", metavar="FMT",
         help="--list: table/json/csv; --load_best, registry verbs: json; --export: "
         "pytorch/safetensors/onnx/torch_export/torchscript")  # fmt: skip
    flag(parser, "--keep_best", type=int, metavar="N", help="--prune: keep the N best by --metric")
    flag(parser, "--keep_last", type=int, metavar="M", help="--prune: keep the M newest")
    flag(parser, "--yes", "-y", action="store_true", help="--prune: delete without asking")
    flag(parser, "--no_preprocessing", action="store_true", help="--export: the bare network")
    flag(
        parser,
        "--registry",
        metavar="DIR",
        help="registry folder ($TRAINFORGE_REGISTRY or models/)",
    )
    flag(parser, "--name", metavar="NAME", help="--register: model name")
    flag(
        parser,
        "--bump",
        choices=("major", "minor", "patch"),
        help="--register: version bump (default minor)",
    )
    flag(parser, "--version", dest="version", metavar="X.Y.Z", help="--register: explicit version")
    flag(parser, "--alias", action="append", default=[], metavar="ALIAS",
         help="--register (repeatable) / --promote: alias such as production")  # fmt: skip
    flag(
        parser,
        "--force",
        action="store_true",
        help="--register: allow an already registered checkpoint; --save / --export: replace "
        "an existing --output file",
    )
    flag(parser, "--export_report", action="append", default=[], metavar="JSON",
         help="--register: an export's sidecar .json to put in the model card (repeatable)")  # fmt: skip
    flag(
        parser,
        "--no_evaluate",
        action="store_true",
        help="--register: skip the test-set evaluation",
    )
    trust_flag(parser)


def run(args: argparse.Namespace) -> int:
    for name in MODES:
        if getattr(args, name):
            handler = globals()[f"_{name}"]
            return int(handler(args))
    raise UsageError("choose a mode, e.g. --list or --load_best (see --help)")


def _need(args: argparse.Namespace, verb: str, *names: str) -> None:
    missing = [f"--{n}" for n in names if getattr(args, n) in (None, "")]
    if missing:
        raise UsageError(f"--{verb} needs {' and '.join(missing)}")


def _output_format(args: argparse.Namespace, allowed: tuple[str, ...], default: str) -> str:
    fmt = args.fmt or default
    if fmt not in allowed:
        raise UsageError(
            f"--format {fmt} is not available here; choose one of {', '.join(allowed)}"
        )
    return str(fmt)


# ------------------------------------------------------------------------------ checkpoints
def _save(args: argparse.Namespace) -> int:
    from trainforge.ckpt.assemble import assemble

    _need(args, "save", "model", "config", "output")
    path, summary = assemble(
        args.model,
        args.config,
        args.output,
        optimizer=args.optimizer,
        epoch=args.epoch,
        step=args.step,
        force=args.force,
    )
    optimizer = "with optimizer state" if summary["optimizer"] else "without optimizer state"
    print(f"saved {path}")
    print(
        f"  {summary['architecture']}, {summary['parameters']:,} parameters, {optimizer}, "
        f"epoch {summary['epoch']}, step {summary['global_step']}"
    )
    print(f"  resume with: trainforge train --resume {path} --output RUN_DIR")
    return 0


def _readable(args: argparse.Namespace, verb: str) -> tuple[list[Any], list[Any]]:
    from trainforge.ckpt.catalog import scan

    _need(args, verb, "checkpoint_dir")
    entries = scan(args.checkpoint_dir)
    bad = [e for e in entries if not e.readable]
    for e in bad:
        print(f"warning: skipped {e.name}: {e.reason}", file=sys.stderr)
    return [e for e in entries if e.readable], bad


def _load_best(args: argparse.Namespace) -> int:
    from trainforge.ckpt.selection import resolve_mode, select_best
    from trainforge.cli.ckpt_views import fmt_value, print_json

    fmt = _output_format(args, ("text", "json"), "text")
    good, _ = _readable(args, "load_best")
    metric = args.metric or _monitor(good)
    best = select_best([e.candidate() for e in good], metric, args.mode)
    entry = next(e for e in good if e.name == best.name)
    mode = resolve_mode(metric, args.mode)
    if fmt == "json":
        print_json({"path": str(entry.path.resolve()), "metric": metric, "mode": mode,
                    "value": entry.metrics[metric], "epoch": entry.epoch, "step": entry.step,
                    "metrics": entry.metrics})  # fmt: skip
        return 0
    print(entry.path.resolve())
    print(
        f"{metric} {fmt_value(entry.metrics[metric])} ({mode}) at epoch {entry.epoch}, step {entry.step}"
    )
    others = ", ".join(f"{k} {fmt_value(v)}" for k, v in entry.metrics.items() if k != metric)
    if others:
        print(f"  {others}")
    return 0


def _monitor(entries: list[Any]) -> str:
    found = next((e.monitor for e in entries if e.monitor), None)
    if found is None:
        raise UsageError("give --metric NAME (e.g. val_accuracy)")
    return str(found)


def _list(args: argparse.Namespace) -> int:
    from trainforge.ckpt.catalog import checkpoint_folder, scan
    from trainforge.cli.ckpt_views import show_catalog

    _need(args, "list", "checkpoint_dir")
    fmt = _output_format(args, LIST_FORMATS, "table")
    show_catalog(scan(args.checkpoint_dir), fmt, str(checkpoint_folder(args.checkpoint_dir)))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from trainforge.ckpt.selection import plan_prune

    if args.keep_best is None and args.keep_last is None:
        raise UsageError(
            "--prune needs what to keep: --keep_best N --metric NAME and/or --keep_last M"
        )
    good, bad = _readable(args, "prune")
    keep_best = args.keep_best or 0
    metric = args.metric or (_monitor(good) if keep_best else None)
    plan = plan_prune(
        [e.candidate() for e in good], metric=metric, mode=args.mode, keep_best=keep_best,
        keep_last=args.keep_last or 0, untouchable=[e.name for e in bad],
    )  # fmt: skip
    for name, reasons in sorted(plan.keep.items()):
        print(f"keep    {name}  ({'; '.join(reasons)})")
    for name in plan.delete:
        print(f"delete  {name}")
    if not plan.delete:
        print("nothing to delete")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"--prune would delete {len(plan.delete)} file(s); pass --yes to delete them"
            )
        answer = input(f"delete {len(plan.delete)} file(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return 0
    folder = next(iter(good)).path.parent if good else Path(args.checkpoint_dir)
    for name in plan.delete:
        (folder / name).unlink(missing_ok=True)
    print(f"deleted {len(plan.delete)} file(s)")
    return 0


def _export(args: argparse.Namespace) -> int:
    _need(args, "export", "checkpoint", "fmt", "output")
    from trainforge.ckpt.export import export_checkpoint
    from trainforge.ckpt.registry import record_export

    # export_checkpoint prints its own progress: what was written and the verification.
    report = export_checkpoint(
        Path(args.checkpoint),
        args.fmt,
        Path(args.output),
        preprocessing=not args.no_preprocessing,
        trust_model_code=args.trust_model_code,
        force=args.force,
    )
    ref = record_export(args.checkpoint, report)
    if ref:
        print(f"recorded the verification in the model card of {ref}")
    return 0


# ------------------------------------------------------------------------------ registry
def _registry(args: argparse.Namespace) -> Any:
    from trainforge.ckpt.registry import Registry

    return Registry(args.registry)


def _register(args: argparse.Namespace) -> int:
    from trainforge.ckpt.registry import load_export_report

    _need(args, "register", "checkpoint", "name")
    reports = [load_export_report(p) for p in args.export_report]
    result = _registry(args).register(
        args.checkpoint, args.name, bump=args.bump, version=args.version, force=args.force,
        aliases=args.alias, exports=reports, evaluate=not args.no_evaluate,
        trust_model_code=args.trust_model_code,
    )  # fmt: skip
    print(f"registered {result['name']}@{result['version']} in {result['folder']}")
    if result.get("parent"):
        print(f"  parent: {result['parent']}")
    test = result.get("test")
    if test:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(test["metrics"].items()))
        print(f"  test set {test['data']} ({test['samples']} samples): {shown}")
    for note in result.get("notes") or []:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def _list_models(args: argparse.Namespace) -> int:
    from trainforge.cli.ckpt_views import models_rows, print_json, print_table

    registry = _registry(args)
    fmt = _output_format(args, ("table", "json"), "table")
    if fmt == "json":
        print_json(registry.index)
        return 0
    headers, rows = models_rows(registry.models())
    if not rows:
        print(f"no models registered in {registry.root}")
        return 0
    print_table(headers, rows, title=f"models in {registry.root}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from trainforge.cli.ckpt_views import models_rows, print_json, print_table, show_entry

    registry = _registry(args)
    fmt = _output_format(args, ("text", "json"), "text")
    name, version = registry.resolve(args.show)
    if "@" not in args.show:
        model = registry.models()[name]
        if fmt == "json":
            print_json({name: model})
            return 0
        headers, rows = models_rows({name: model})
        print_table(headers, rows, title=f"{name} in {registry.root}")
        return 0
    entry = registry.entry(name, version)
    if fmt == "json":
        print_json({"name": name, "version": version, **entry})
        return 0
    show_entry(name, version, entry, registry.aliases_of(name, version))
    return 0


def _promote(args: argparse.Namespace) -> int:
    if len(args.alias) != 1:
        raise UsageError("--promote needs exactly one --alias, e.g. --alias production")
    name, version, previous = _registry(args).promote(args.promote, args.alias[0])
    was = f" (was {previous})" if previous and previous != version else ""
    print(f"{name}@{args.alias[0]} -> {version}{was}")
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from trainforge.ckpt.lineage import format_chain
    from trainforge.cli.ckpt_views import print_json

    fmt = _output_format(args, ("text", "json"), "text")
    nodes = _registry(args).lineage(args.lineage)
    if fmt == "json":
        print_json([n.as_dict() for n in nodes])
    else:
        print(format_chain(nodes))
    return 0


__all__ = ["TrainforgeError", "add_arguments", "run"]
