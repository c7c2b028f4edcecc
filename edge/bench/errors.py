"""Errors of edge-bench: printed as one line by the CLI (see edge.errors)."""

from __future__ import annotations

from edge.errors import Sign2SoundError, UsageError


class BenchError(Sign2SoundError):
    """A benchmark that cannot run: a missing or invalid model, an unreadable source."""


class BenchUsageError(UsageError):
    """A bad combination of edge-bench arguments (exit code 2)."""
