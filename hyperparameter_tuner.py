#!/usr/bin/env python3
"""SPEC.md's hyperparameter tuner: the same as ``trainforge tune``."""

from trainforge.cli.main import tool_main

if __name__ == "__main__":
    raise SystemExit(tool_main("tune", "hyperparameter_tuner.py"))
