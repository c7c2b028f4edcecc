"""The transcript: every completed word, appended with a timestamp, so nothing said is lost.

One line per word, `2026-11-25T09:41:07.123+00:00<TAB>HELLO`, flushed and fsync'd after each
word so a power cut on a box on a shelf loses nothing already spoken. Writing must never stop
recognition or speech: when the file cannot be written (read-only folder, disk full, SD card
gone) the error is logged loudly with the path, the unwritten lines are kept in memory (bounded,
but hours of signing) and written first, in order, on the next append or `retry()`. A failed
write that left half a line behind is cut back so the file never holds a torn line. Words still
unwritten at `close()` are logged in full, so they at least reach the journal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from datetime import datetime
from pathlib import Path

from edge.errors import Sign2SoundError

log = logging.getLogger(__name__)


class TranscriptError(Sign2SoundError):
    """Completed words that never reached the transcript (they are only in the log)."""


DEFAULT_MAX_PENDING = 100_000  # ~ 2.5 MB of lines; days of continuous signing


def format_line(word: str, when: datetime) -> str:
    """`ISO-8601 time<TAB>word\\n`; naive times are taken as local time and given their offset."""
    stamp = when.astimezone().isoformat(timespec="milliseconds")
    clean = " ".join(word.split())  # a tab or newline inside a word would break the format
    return f"{stamp}\t{clean}\n"


class Transcript:
    """Appends words to `path`; `pending` counts the words not yet safely on disk."""

    def __init__(
        self, path: Path, fsync: bool = True, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._pending: deque[str] = deque()
        self._max_pending = max_pending
        self._fd: int | None = None  # raw descriptor: no hidden buffer to half-flush later
        self._lock = threading.Lock()
        self._failing = False
        self.written = 0  # words safely written
        self.failures = 0  # failed write attempts
        self.lost = 0  # words dropped because the pending list was full (also logged)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def append(self, word: str, when: datetime) -> bool:
        """Add one word; returns True when it (and everything pending before it) is on disk."""
        with self._lock:
            if len(self._pending) >= self._max_pending:
                dropped = self._pending.popleft()
                self.lost += 1
                log.error(
                    "transcript %s: %d words waiting; dropping the oldest: %s",
                    self.path,
                    len(self._pending) + 1,
                    dropped.rstrip("\n"),
                )
            self._pending.append(format_line(word, when))
            return self._flush_pending(loud=True)

    def retry(self) -> bool:
        """Try again to write pending words (the daemon calls this now and then)."""
        with self._lock:
            return self._flush_pending(loud=False)

    def move_to(self, path: Path, fsync: bool = True) -> bool:
        """Write future words to `path` (a config reload changed it); words still pending for
        the old file go to the new one, so a reload never drops them."""
        with self._lock:
            self._close_file()
            self.path = Path(path)
            self.fsync = fsync
            self._failing = False
            held = len(self._pending)
            written = self._flush_pending(loud=True)
            if written and held:
                log.warning(
                    "transcript moved to %s: %d held-back word(s) written first, in order",
                    self.path,
                    held,
                )
            return written

    def close(self) -> None:
        """Write what is pending if possible, log what is not, close the file."""
        with self._lock:
            self._flush_pending(loud=False)
            if self._pending:
                log.error(
                    "transcript %s: %d word(s) could not be written and are only in this log:\n%s",
                    self.path,
                    len(self._pending),
                    "".join(self._pending).rstrip("\n"),
                )
            self._close_file()

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o644)
        return self._fd

    def _flush_pending(self, loud: bool) -> bool:
        if not self._pending:
            return True
        data = memoryview("".join(self._pending).encode("utf-8"))
        size_before: int | None = None
        try:
            fd = self._open()
            size_before = _size(fd)
            while data:
                data = data[os.write(fd, data) :]
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            self.failures += 1
            self._undo_partial_write(size_before)
            self._close_file()
            if loud or not self._failing:
                log.error(
                    "cannot write the transcript %s: %s; %d word(s) kept in memory and "
                    "written when it works again",
                    self.path,
                    exc.strerror or exc,
                    len(self._pending),
                )
            self._failing = True
            return False
        if self._failing:
            log.warning(
                "transcript %s is writable again: %d held-back word(s) written",
                self.path,
                len(self._pending),
            )
            self._failing = False
        self.written += len(self._pending)
        self._pending.clear()
        return True

    def _undo_partial_write(self, size_before: int | None) -> None:
        """Cut a half-written tail off so the retry does not leave a torn line."""
        if self._fd is None or size_before is None:
            return
        # not a regular file (ftruncate fails) or the disk is gone: nothing more to do here
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, size_before)

    def _close_file(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # nothing is buffered in user space, so a failed close loses nothing: words not yet
        # known to be on disk are still pending
        with contextlib.suppress(OSError):
            os.close(fd)


def _size(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_size
    except OSError:
        return None
