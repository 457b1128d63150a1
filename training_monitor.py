#!/usr/bin/env python3
"""SPEC.md's training monitor: the same as ``trainforge monitor``."""

from trainforge.cli.main import tool_main

if __name__ == "__main__":
    raise SystemExit(tool_main("monitor", "training_monitor.py"))
