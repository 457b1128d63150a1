#!/usr/bin/env python3
"""SPEC.md's checkpoint manager: the same as ``trainforge ckpt``."""

from trainforge.cli.main import tool_console

if __name__ == "__main__":
    tool_console("ckpt", "checkpoint_manager.py")
