"""Placeholder for this subcommand (being built)."""

from __future__ import annotations

import argparse

from edge.errors import Sign2SoundError

HELP = "evaluate a .tflite model on any landmark CSV: per-letter accuracy and confusion matrix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def main(args: argparse.Namespace) -> int:
    raise Sign2SoundError("this command is not built yet")
