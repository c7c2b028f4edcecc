"""`sign2sound demo`: spell and speak the bundled sample word, no camera needed (being built)."""

from __future__ import annotations

import argparse

from edge.errors import Sign2SoundError

HELP = "spell and speak the bundled sample word, no camera needed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def main(args: argparse.Namespace) -> int:
    raise Sign2SoundError("this command is not built yet")
