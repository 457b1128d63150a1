"""``trainforge config schema|validate FILE``."""

from __future__ import annotations

import argparse
import json

from trainforge.cli.common import overrides_flag
from trainforge.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["schema", "validate", "show", "reference"],
        help="schema: print the JSON Schema; validate FILE: check a config; "
        "show FILE: print it resolved, defaults filled in",
    )
    parser.add_argument("file", nargs="?", help="the config file (validate, show)")
    overrides_flag(parser)


def run(args: argparse.Namespace) -> int:
    from trainforge.config import TrainConfig, dump_config, load_config

    if args.action == "schema":
        schema = TrainConfig.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "trainforge training config"
        print(json.dumps(schema, indent=2))
        return 0
    if args.action == "reference":
        from trainforge.config.reference import reference_markdown

        print(reference_markdown(), end="")
        return 0
    if not args.file:
        raise UsageError(f"trainforge config {args.action} needs a FILE (e.g. config.yaml)")
    cfg = load_config(args.file, args.overrides)
    cfg.require_data(args.file)
    if args.action == "show":
        print(dump_config(cfg), end="")
    else:
        print(f"{args.file}: valid training config")
    return 0
