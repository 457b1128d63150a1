#!/usr/bin/env python3
"""SPEC.md's hyperparameter tuner: the same as ``trainforge tune``."""

from trainforge.cli.main import tool_console

if __name__ == "__main__":
    tool_console("tune", "hyperparameter_tuner.py")
