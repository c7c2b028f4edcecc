"""`sign2sound train`: train a letter classifier on landmark CSVs (being built)."""

from __future__ import annotations

import argparse

from edge.errors import Sign2SoundError

HELP = "train a letter classifier on landmark CSVs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def main(args: argparse.Namespace) -> int:
    raise Sign2SoundError("this command is not built yet")
