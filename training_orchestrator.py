#!/usr/bin/env python3
"""SPEC.md's training orchestrator: the same as ``trainforge train``."""

from trainforge.cli.main import tool_main

if __name__ == "__main__":
    raise SystemExit(tool_main("train", "training_orchestrator.py"))
