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
        help="schema: print the JSON Schema (schema tuning: the tuning config's); validate "
        "FILE: check a training or tuning config; show FILE: print it resolved, defaults filled in",
    )
    parser.add_argument("file", nargs="?", help="the config file (validate, show)")
    overrides_flag(parser)


def run(args: argparse.Namespace) -> int:
    from trainforge.config import TrainConfig, dump_config, load_config

    if args.action == "schema":
        if args.file == "tuning":
            from trainforge.config.tuning import TuneConfig

            schema = TuneConfig.model_json_schema()
            schema["title"] = "trainforge tuning config"
        else:
            schema = TrainConfig.model_json_schema()
            schema["title"] = "trainforge training config"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        print(json.dumps(schema, indent=2))
        return 0
    if args.action == "reference":
        from trainforge.config.reference import reference_markdown, tuning_reference_markdown

        print(
            tuning_reference_markdown() if args.file == "tuning" else reference_markdown(), end=""
        )
        return 0
    if not args.file:
        raise UsageError(f"trainforge config {args.action} needs a FILE (e.g. config.yaml)")
    if _is_tuning_config(args.file):
        from trainforge.config.tuning import load_tuning_config

        tuning = load_tuning_config(args.file, args.overrides)
        if args.action == "show":
            print(dump_config(tuning), end="")
        else:
            print(f"{args.file}: valid tuning config ({len(tuning.search_space)} parameter(s))")
        return 0
    cfg = load_config(args.file, args.overrides)
    cfg.require_data(args.file)
    if args.action == "show":
        print(dump_config(cfg), end="")
    else:
        print(f"{args.file}: valid training config")
    return 0


def _is_tuning_config(path: str) -> bool:
    """A tuning config is recognised by its search_space section."""
    from trainforge.config import load_yaml

    data, _ = load_yaml(path)
    return "search_space" in data
