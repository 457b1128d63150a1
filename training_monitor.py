#!/usr/bin/env python3
"""SPEC.md's training monitor: the same as ``trainforge monitor``."""

from trainforge.cli.main import tool_console

if __name__ == "__main__":
    tool_console("monitor", "training_monitor.py")
