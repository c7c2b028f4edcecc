"""A one-line progress bar on stderr for long runs (a 10-minute soak must show it is alive).

Drawn only when stderr is a terminal or when asked (`--progress`), so JSON on stdout and logs of
headless runs stay clean. Redrawn at most `max_hz` times a second: the benchmark loop calls
`update` every iteration and pays one clock read when nothing is drawn.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28


class Progress:
    def __init__(
        self,
        total: float | None,
        label: str,
        *,
        enabled: bool,
        unit: str = "",
        stream: TextIO | None = None,
        max_hz: float = 8.0,
    ) -> None:
        self.total = None if total is None else max(total, 1e-9)
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self._min_interval_ns = int(1e9 / max_hz)
        self._next_draw_ns = 0
        self._drawn = False
        self._start = time.monotonic()

    @staticmethod
    def wanted(flag: bool | None, stream: TextIO | None = None) -> bool:
        """--progress forces it on, --no-progress off; by default only on a terminal."""
        if flag is not None:
            return flag
        stream = stream if stream is not None else sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())

    def update(self, done: float, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic_ns()
        if now < self._next_draw_ns and (self.total is None or done < self.total):
            return
        self._next_draw_ns = now + self._min_interval_ns
        elapsed = time.monotonic() - self._start
        if self.total is None:  # length unknown (one pass over a file): show that it moves
            text = f"\r{self.label} {elapsed:6.1f}s {note}"
        else:
            frac = min(max(done / self.total, 0.0), 1.0)
            filled = int(frac * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            text = f"\r{self.label} [{bar}] {frac * 100:5.1f}% {elapsed:6.1f}s {note}"
        self.stream.write(text[:120].ljust(80))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
