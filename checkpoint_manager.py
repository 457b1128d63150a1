#!/usr/bin/env python3
"""SPEC.md's checkpoint manager: the same as ``trainforge ckpt``."""

from trainforge.cli.main import tool_main

if __name__ == "__main__":
    raise SystemExit(tool_main("ckpt", "checkpoint_manager.py"))
