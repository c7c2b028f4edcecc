"""Where each letter of a sample really starts, and how long the pipeline took to accept it.

The truth comes from a landmark CSV in the project's format (the demo sample's replay CSV, whose
frames are the frames of its video): runs of rows with the same `label`, in `frame`/`t_ms` order,
a gap of more than `max_gap_s` splitting two runs (HELLO's two Ls). Only the label, frame and
time columns are read; the landmarks are the replay source's business.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.bench.errors import BenchError


@dataclass(frozen=True)
class LetterSpan:
    letter: str
    start_s: float
    end_s: float


def load_truth(path: Path, max_gap_s: float = 0.25) -> list[LetterSpan]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # a BOM is not a name
            reader = csv.DictReader(handle)
            missing = {"label", "t_ms"} - set(reader.fieldnames or [])
            if missing:
                raise BenchError(f"{path}: truth CSV lacks column(s) {', '.join(sorted(missing))}")
            rows = []
            for line_no, row in enumerate(reader, start=2):
                try:
                    rows.append((float(row["t_ms"]) / 1000.0, row["label"].strip().upper()))
                except (TypeError, ValueError):
                    raise BenchError(f"{path}, line {line_no}: t_ms is not a number") from None
    except OSError as exc:
        raise BenchError(f"cannot read the truth CSV {path}: {exc.strerror or exc}") from exc
    rows.sort()
    spans: list[LetterSpan] = []
    for t, letter in rows:
        last = spans[-1] if spans else None
        if last and last.letter == letter and t - last.end_s <= max_gap_s:
            spans[-1] = LetterSpan(letter, last.start_s, t)
        else:
            spans.append(LetterSpan(letter, t, t))
    return spans


def match_letters(
    truth: list[LetterSpan],
    accepted: list[tuple[str, float, float]],
    period_s: float | None,
    until_s: float | None = None,
) -> dict[str, Any]:
    """Match accepted letters (letter, stream time, processing latency s) to the truth, in order.

    A truth span is matched by the first unused acceptance of the same letter at or after its
    start and before the next span of the truth ends. Delay = stream time of the accepting frame
    minus the letter's first frame, plus that frame's own processing latency: the time a signer
    waits from starting a letter to hearing it accepted. With `period_s` (a looping source) the
    truth repeats every period. Spans not over by `until_s` (the last frame processed: a run cut
    off mid-letter) are not expected.
    """
    if not truth:
        return {"expected": "", "recognised": "", "letters": [], "delay_s": None}
    spans = list(truth)
    if period_s and (accepted or until_s):
        last = max([t for _, t, _ in accepted] + ([until_s] if until_s else []))
        loops = int(last // period_s) + 1
        spans = [
            LetterSpan(s.letter, s.start_s + k * period_s, s.end_s + k * period_s)
            for k in range(loops)
            for s in truth
        ]
    if until_s is not None:
        spans = [s for s in spans if s.end_s <= until_s]
    used = [False] * len(accepted)
    times = [t for _, t, _ in accepted]  # in processing order, so ascending
    letters = []
    delays = []
    for i, span in enumerate(spans):
        horizon = spans[i + 1].end_s if i + 1 < len(spans) else float("inf")
        found = None
        # only the acceptances inside [start, horizon] can match: a soak has tens of thousands
        j = bisect.bisect_left(times, span.start_s)
        while j < len(accepted) and times[j] <= horizon:
            letter, t, latency = accepted[j]
            if not used[j] and letter == span.letter:
                used[j] = True
                found = (t, latency)
                break
            j += 1
        delay = None if found is None else found[0] - span.start_s + found[1]
        if delay is not None:
            delays.append(delay)
        letters.append({"letter": span.letter, "start_s": span.start_s, "delay_s": delay})
    return {
        "expected": "".join(s.letter for s in truth),
        "recognised": "".join(letter for letter, _, _ in accepted),
        "matched": sum(1 for x in letters if x["delay_s"] is not None),
        "expected_count": len(spans),
        "unexpected": used.count(False),
        "letters": letters,
        "delay_s": {
            "min": float(min(delays)),
            "median": float(np.median(delays)),
            "max": float(max(delays)),
        }
        if delays
        else None,
    }
