"""Logging to stderr in a journald-friendly format.

Under systemd (JOURNAL_STREAM set) each line starts with a syslog priority prefix such as `<4>`,
which journald turns into the entry's priority, and carries no timestamp (journald adds one).
On a terminal a timestamp is added instead.
"""

from __future__ import annotations

import logging
import os
import sys

from edge import nativelog

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class JournalFormatter(logging.Formatter):
    """Prefix every line with `<priority>` so `journalctl -p warning` filters correctly."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in text.splitlines())


class StderrHandler(logging.StreamHandler):
    """A StreamHandler on stderr that still reaches it while edge.nativelog has fd 2 redirected
    (the native libraries' output is captured there, Python's own lines must not be)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._on_fd2() and nativelog.write_console(self.format(record) + self.terminator):
                return
        except Exception:
            self.handleError(record)
            return
        super().emit(record)

    def _on_fd2(self) -> bool:
        try:
            return self.stream.fileno() == 2
        except (AttributeError, OSError, ValueError):  # a stream with no fd (pytest's capsys)
            return False


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for the CLI (stderr only, never stdout)."""
    handler = StderrHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
