"""Placeholder for this subcommand (being built)."""

from __future__ import annotations

import argparse

from edge.errors import Sign2SoundError

HELP = "convert landmark data sets into the project's CSV format"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def main(args: argparse.Namespace) -> int:
    raise Sign2SoundError("this command is not built yet")
