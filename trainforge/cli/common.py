"""What every subcommand shares: flags in both spellings, one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def flag(parser: argparse.ArgumentParser | Any, *names: str, **kwargs: Any) -> Any:
    """Register ``--snake_case`` and ``--kebab-case`` spellings of one option."""
    spellings: list[str] = []
    for name in names:
        if not name.startswith("--"):
            spellings.append(name)
            continue
        body = name[2:]
        for variant in (body, body.replace("_", "-"), body.replace("-", "_")):
            if f"--{variant}" not in spellings:
                spellings.append(f"--{variant}")
    if names[0].startswith("--"):
        kwargs.setdefault("dest", names[0][2:].replace("-", "_"))
    return parser.add_argument(*spellings, **kwargs)


def overrides_flag(parser: argparse.ArgumentParser, scope: str = "") -> Any:
    """The one override path: ``--set section.key=value``, repeatable, type-checked later."""
    return flag(
        parser,
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key{scope}, e.g. --set training.epochs=5 (repeatable)",
    )


def trust_flag(parser: argparse.ArgumentParser | Any) -> Any:
    """``--trust_model_code``: import the model class a checkpoint's config names."""
    return flag(
        parser,
        "--trust_model_code",
        action="store_true",
        help="import and run the model code (package.module:Class) that a checkpoint's "
        "config names; only for checkpoints you trust",
    )


def fail(message: str, code: int = 2) -> int:
    print(f"trainforge: error: {message}", file=sys.stderr)
    return code
