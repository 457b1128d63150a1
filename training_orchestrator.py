#!/usr/bin/env python3
"""SPEC.md's training orchestrator: the same as ``trainforge train``."""

from trainforge.cli.main import tool_console

if __name__ == "__main__":
    tool_console("train", "training_orchestrator.py")
