"""``trainforge <tool> ...``: dispatch to one subcommand module; user mistakes never trace back."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from trainforge import __version__
from trainforge.cli.common import Parser, fail
from trainforge.errors import TrainforgeError

# name -> (module, help). Each module has add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "train": (
        "trainforge.cli.train",
        "train a model from a YAML config (training_orchestrator.py)",
    ),
    "tune": (
        "trainforge.cli.tune",
        "hyperparameter search on Optuna, or --analyze a study (hyperparameter_tuner.py)",
    ),
    "verify-resume": ("trainforge.cli.verify_resume", "kill-and-resume check of a config"),
    "ckpt": ("trainforge.cli.ckpt", "checkpoints and model registry (checkpoint_manager.py)"),
    "monitor": (
        "trainforge.cli.monitor",
        "watch a run, diagnose it, plot its curves, compare runs (training_monitor.py)",
    ),
    "config": (
        "trainforge.cli.config_cmd",
        "print the config JSON Schema or validate a config file",
    ),
    "evaluate": (
        "trainforge.cli.evaluate",
        "metrics, per-class figures and confusion matrix of a checkpoint on labelled data",
    ),
    "predict": (
        "trainforge.cli.predict",
        "predictions of a checkpoint for a CSV file or image folder, written as CSV",
    ),
}


def build_parser(prog: str = "trainforge") -> Parser:
    parser = Parser(
        prog=prog, description="From a YAML config to a trained, tuned, versioned model."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="<tool>", parser_class=Parser)
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(
    argv: Sequence[str] | None = None,
    prog: str = "trainforge",
    on_error: Callable[[str, int], int] = fail,
) -> int:
    """Run one tool; ``on_error`` reports a user mistake (a distributed worker hands it to
    its launcher instead of printing it once per rank)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(args_list)
    args._command_line = [prog, *args_list]  # the --distributed launcher re-runs it
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    # Like `python script.py`, let configs name the user's own modules in the working folder
    # (architecture: "my_models:Net", data.source: "my_data:load").
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return int(importlib.import_module(args._module).run(args))
    except TrainforgeError as exc:
        return on_error(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return on_error("interrupted", 130)


def tool_main(command: str, prog: str) -> int:
    """Entry of the SPEC.md scripts (training_orchestrator.py, ...): one tool, same flags."""
    return main([command, *sys.argv[1:]], prog=prog)


def console() -> None:
    """The ``trainforge`` command and ``python -m trainforge``: ``main`` in a process of its own,
    ended without the interpreter's teardown (see :mod:`trainforge.cli._exit`)."""
    from trainforge.cli._exit import exit_now

    exit_now(main())


def tool_console(command: str, prog: str) -> None:
    """The SPEC.md scripts' entry: ``tool_main`` ended like :func:`console`."""
    from trainforge.cli._exit import exit_now

    exit_now(tool_main(command, prog))


def _version() -> str:
    return f"trainforge {__version__}"
