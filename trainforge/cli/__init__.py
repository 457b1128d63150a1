"""The ``trainforge`` command: one thin subcommand module per tool."""
