"""Long landmark streams for soak runs and tests, made from a short real recording.

A recorded word repeated with a hand-free gap between copies gives hours of realistic signing
in which every word ends because the hand is gone, and whose expected words are known.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from edge.dataset import open_text


def repeat_landmark_csv(
    source: Path,
    dest: Path,
    repeats: int,
    *,
    gap_frames: int = 30,
    fps: float = 15.0,
    sequence: str = "repeated",
    edit: Callable[[int, dict[str, str]], None] | None = None,
) -> tuple[Path, float]:
    """Write the rows of `source` `repeats` times as one sequence at `fps`, each copy starting
    `gap_frames` after the previous one ends. `edit(i, row)` may change row i (0-based over the
    whole stream) in place, e.g. to inject NaN. Returns (dest, stream seconds)."""
    with open_text(source) as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    span = int(rows[-1]["frame"]) + gap_frames
    with dest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        i = 0
        for copy in range(repeats):
            for row in rows:
                frame = int(row["frame"]) + copy * span
                out = row | {
                    "frame": str(frame),
                    "t_ms": str(round(frame * 1000 / fps)),
                    "sequence": sequence,
                }
                if edit is not None:
                    edit(i, out)
                writer.writerow(out)
                i += 1
    return dest, repeats * span / fps
