"""Word streams cut from the real lart101 letter clips, at 1, 2 and 3 letters per second.

lart101 (../shared/data/sequences/lart101.csv) is one signer's letter clips A-Y: the hand rests,
rises into the letter and holds it until the clip ends (the videos stop with the hand still up:
there is no drop). Per letter of a word this cuts, from that letter's own clip:

- the end of its rise into the letter (a real move into the letter),
- a hold from the first held frame on (edge.synth.frame_labels_for_clip), trimmed to the rate,
- the move out: the end of the rise played backwards (the clips have no drop of their own, so
  the real frames of the hand between rest and the letter stand in for it, in reverse).

Moves take a fifth of a letter's slot on each side; the slot is 1/rate s with a seeded +/-10% per
letter, so the measured rate stays near the nominal one. A double letter gets a short real
release instead: at most 0.1 s out and 0.1 s back in on the same clip (the small dip a signer
makes). Frames MediaPipe lost, and frames where it tracks the resting hand instead, stay absent
("no hand", as live). G, J, L and R track the resting hand for the first ~2.7 s; for L and R
MediaPipe then jumps straight to the raised hand, so their rise is not in the data and their
moves are frames without a hand. Every stream starts with 0.5 s of no hand and ends after its last
letter's move out: the hand has left view (the word evaluation feeds >= 1.5 s of no hand after).

Rows keep lart101's landmarks, handedness, score and frame size; `frame`/`t_ms` are renumbered at
the clips' 30 fps, `file` names the source clip and frame, and `truth` says per frame what the
hand does (the letter while held, `_` while moving). The word list avoids A (lart101's A clip
tracks the resting hand, not an A), Z (no clip), J (a 1.5 s stroke that no letter slot holds) and
Q (its hold breaks up after four frames).

lart101 is a TRAINING source of the models: every number measured on these cuts is in-sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dataset import (
    BACKGROUND,
    COORD_COLUMNS,
    DEFAULT_LABELS,
    OPTIONAL_COLUMNS,
    TRUTH_COLUMN,
    DataError,
    LandmarkTable,
    load_landmark_csv,
    write_landmark_csv,
)
from edge.synth import frame_labels_for_clip
from edge.training.windows import clips_of

WORDS: tuple[str, ...] = (
    "HELLO", "HI", "YES", "NO", "HELP", "GOOD", "THE", "YOU", "ME", "NOT", "LOVE", "NICE",
    "SORRY", "STOP", "COME", "HOME", "FOOD", "FRIEND", "MORE", "WELL", "BYE", "THINK", "OK",
    "TIME", "WORK", "BOOK", "SEE", "COFFEE", "WHO", "TREE",
)  # fmt: skip
RATES: tuple[float, ...] = (1.0, 2.0, 3.0)  # letters per second
SEED = 101
FPS = 30.0  # the clips' own rate: frames are cut, never resampled
LEAD_S = 0.5  # no hand before the first letter
MOVE_SHARE = 0.2  # each move (in, out) takes this share of a letter's slot
RELEASE_FRAMES = 3  # at most this many frames out and back in between a double letter
SLOT_JITTER = 0.1  # each letter's slot is 1/rate s times 1 +/- this
RESTING_WRIST_Y = 0.8  # wrist this low: MediaPipe is tracking the resting hand, not the letter
RISE_LOOKBACK = 6  # frames before the hold in which a tracked rise must show ...
RISE_MIN = 0.05  # ... the wrist this much lower (of the frame height) than at the hold
UNUSABLE = frozenset("AZJQ")
HEADER = ["label", *COORD_COLUMNS, *OPTIONAL_COLUMNS, TRUTH_COLUMN]


@dataclass(frozen=True)
class LetterClip:
    """One lart101 clip: which frames have a hand (row index) and where the hold starts."""

    letter: str
    rows: dict[int, int]  # source frame number -> table row, frames with a usable hand only
    first_held: int
    last_frame: int

    def row(self, frame: int) -> int | None:
        return self.rows.get(frame)


def letter_clips(table: LandmarkTable) -> dict[str, LetterClip]:
    """The clips of a lart101-style table by letter, with the frame their hold starts at."""
    class_index = {name: i for i, name in enumerate(DEFAULT_LABELS)}
    features = table.features()
    clips = {}
    for rows in clips_of(table):
        letter = str(table.labels[rows[0]])
        labels = frame_labels_for_clip(table, rows, features, class_index, from_rest=True)
        held = np.flatnonzero(labels == class_index[letter])
        if not len(held):
            continue  # lart101's A: the resting hand throughout
        first = int(table.frame[rows[held[0]]])
        wrist_y = {int(table.frame[r]): float(table.coords[r, 1]) for r in rows}
        usable = {
            int(table.frame[r]): int(r) for r in rows if table.coords[r, 1] <= RESTING_WRIST_Y
        }
        rise = [wrist_y[f] for f in range(first - RISE_LOOKBACK, first) if f in usable]
        if not rise or max(rise) - wrist_y[first] < RISE_MIN:
            # MediaPipe jumped from the resting hand to the raised one (L, R): the rise is not
            # in the data, so the moves of this letter are frames without a hand
            usable = {f: r for f, r in usable.items() if f >= first}
        clips[letter] = LetterClip(letter, usable, first, int(table.frame[rows[-1]]))
    return clips


@dataclass(frozen=True)
class Cut:
    """One output frame: a source frame of a clip (None = no hand) and what the hand does."""

    letter: str
    frame: int | None
    truth: str


def cut_word(
    word: str, rate: float, clips: dict[str, LetterClip], rng: np.random.Generator
) -> list[Cut]:
    """The frames of one word at `rate` letters/s (see the module docstring)."""
    missing = sorted(set(word) - set(clips) | set(word) & UNUSABLE)
    if missing:
        raise DataError(f"word {word!r}: no usable clip for {', '.join(missing)}")
    cuts = [Cut("", None, BACKGROUND)] * round(LEAD_S * FPS)
    slots = [FPS / rate * rng.uniform(1 - SLOT_JITTER, 1 + SLOT_JITTER) for _ in word]
    for i, letter in enumerate(word):
        clip = clips[letter]
        slot = round(slots[i])
        move = max(1, round(MOVE_SHARE * slot))
        release = min(move, RELEASE_FRAMES)
        move_in = release if i and word[i - 1] == letter else move
        move_out = release if i + 1 < len(word) and word[i + 1] == letter else move
        hold = slot - move_in - move_out
        if clip.first_held + hold - 1 > clip.last_frame:
            raise DataError(
                f"clip {letter}: holds {clip.last_frame - clip.first_held + 1} frames, "
                f"{hold} needed at {rate:g} letters/s"
            )
        start = clip.first_held
        cuts += [Cut(letter, f, BACKGROUND) for f in range(start - move_in, start)]
        cuts += [Cut(letter, f, letter) for f in range(start, start + hold)]
        cuts += [Cut(letter, f, BACKGROUND) for f in range(start - 1, start - move_out - 1, -1)]
    return cuts


def build_rows(
    table: LandmarkTable,
    words: tuple[str, ...] = WORDS,
    rates: tuple[float, ...] = RATES,
    seed: int = SEED,
) -> list[list[str]]:
    """CSV rows (project format plus `truth`) of every word at every rate, seeded."""
    clips = letter_clips(table)
    rng = np.random.default_rng(seed)
    out = []
    for rate in rates:
        for word in words:
            sequence = f"lart101-words:{word}@{rate:g}"
            for index, cut in enumerate(cut_word(word, rate, clips, rng)):
                r = clips[cut.letter].row(cut.frame) if cut.frame is not None else None
                if r is None:
                    continue  # no hand in this frame: absent, as MediaPipe would leave it
                extra = {
                    "handedness": str(table.handedness[r]),
                    "score": f"{table.score[r]:.3f}" if np.isfinite(table.score[r]) else "",
                    "width": f"{table.width[r]:g}",
                    "height": f"{table.height[r]:g}",
                    "source": str(table.source[r]),
                    "signer": str(table.signer[r]),
                    "sequence": sequence,
                    "frame": str(index),
                    "t_ms": str(round(index * 1000 / FPS)),
                    "file": f"lart101/{cut.letter}.mp4#{cut.frame}",
                }
                out.append(
                    [
                        word,
                        *(f"{v:.5f}" for v in table.coords[r]),
                        *(extra.get(c, "") for c in OPTIONAL_COLUMNS),
                        cut.truth,
                    ]
                )
    return out


def write_words(lart101_csv: Path, out: Path, seed: int = SEED) -> tuple[int, int]:
    """Cut every word of WORDS at every rate of RATES from `lart101_csv` into `out` (.csv, or
    .csv.gz: the same input gives the same bytes). Returns (streams, rows)."""
    rows = build_rows(load_landmark_csv(lart101_csv), seed=seed)
    write_landmark_csv(out, HEADER, rows)
    return len(WORDS) * len(RATES), len(rows)
