"""Errors a user can act on: the CLI prints their message (no traceback) and exits with `exit_code`.

Every stage raises a subclass naming the file, key, line or device at fault, so the journal of a
headless box says what to fix.
"""

from __future__ import annotations


class Sign2SoundError(Exception):
    """Base of the errors the CLI reports as one clear line."""

    exit_code = 1


class UsageError(Sign2SoundError):
    """Bad command-line or configuration input (exit code 2, like argparse)."""

    exit_code = 2
