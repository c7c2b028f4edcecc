"""The word streams cut from the real lart101 clips: committed, reproducible, real frames only."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest

from edge.cli import main
from edge.clip_words import RATES, RELEASE_FRAMES, SEED, WORDS, build_rows, letter_clips
from edge.config import REPO_ROOT, SHARED_DATA_DIR
from edge.dataset import BACKGROUND, COORD_COLUMNS, load_landmark_csv
from edge.word_eval import Condition, condition_frames, word_streams

COMMITTED = REPO_ROOT / "models" / "eval" / "words" / "lart101_words.csv.gz"
LART101 = SHARED_DATA_DIR / "sequences" / "lart101.csv"


@pytest.fixture(scope="module")
def committed():
    return load_landmark_csv(COMMITTED, words=True)


@pytest.fixture(scope="module")
def lart101():
    return load_landmark_csv(LART101)


def test_the_committed_cuts_are_what_the_command_makes(tmp_path, lart101) -> None:
    out = tmp_path / "again.csv.gz"
    assert main(["convert-data", "lart101-words", "--out", str(out)]) == 0
    assert out.read_bytes() == COMMITTED.read_bytes()  # seeded, and gzip without a timestamp
    a, b = (build_rows(lart101, words=("HELLO",), rates=(2.0,), seed=s) for s in (SEED, 7))
    assert a != b  # the seed sets the per-letter timing


def test_every_word_at_every_rate_spells_its_letters(committed) -> None:
    streams = word_streams(committed)
    assert sorted(s.sequence for s in streams) == sorted(
        f"lart101-words:{w}@{r:g}" for w in WORDS for r in RATES
    )
    assert "HELLO" in WORDS and len(WORDS) >= 21
    assert not set("".join(WORDS)) & set("AZJQ")  # no usable clip for these
    for s in streams:
        # truth: the letters held, in order; a run ends at a move or at frames without a hand
        runs, prev_truth, prev_frame = [], None, None
        for row, truth in zip(s.rows, s.truth, strict=True):
            if truth != BACKGROUND and (truth != prev_truth or row.frame != prev_frame + 1):
                runs.append(truth)
            prev_truth, prev_frame = truth, row.frame
        assert "".join(runs) == s.word, s.sequence
        assert s.rows[0].frame >= 15  # starts with 0.5 s of no hand


def test_rates_are_near_nominal_and_double_letters_release_briefly(committed) -> None:
    streams = word_streams(committed)
    for rate in RATES:
        measured = [
            condition_frames(s, Condition(), tail_s=1.5).letters_per_s
            for s in streams
            if s.sequence.endswith(f"@{rate:g}")
        ]
        assert np.mean(measured) == pytest.approx(rate, rel=0.06)
        assert min(measured) > 0.9 * rate and max(measured) < 1.2 * rate
    hello = next(s for s in streams if s.sequence == "lart101-words:HELLO@2")
    frames = np.array([r.frame for r in hello.rows])
    held_l = frames[np.array(hello.truth) == "L"]
    between = np.diff(held_l).max()  # the one jump inside the L frames: the release
    assert 1 < between <= 2 * RELEASE_FRAMES + 1


def test_every_frame_is_a_real_lart101_frame(lart101) -> None:
    """Landmarks, handedness and frame size are lart101's own, frame for frame (the `file`
    column names it); moves come from the rise of the same letter's clip, holds from its held
    part."""
    index = {
        (str(lart101.sequence[i]).split(":")[1], int(lart101.frame[i])): i
        for i in range(len(lart101))
    }
    clips = letter_clips(lart101)
    with gzip.open(COMMITTED, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 3000
    for row in rows:
        name, frame = row["file"].removeprefix("lart101/").split(".mp4#")
        src = index[(name, int(frame))]
        coords = np.array([float(row[c]) for c in COORD_COLUMNS], np.float32)
        assert np.array_equal(coords, lart101.coords[src])
        assert row["handedness"] == lart101.handedness[src]
        assert float(row["width"]) == lart101.width[src] == 360
        assert row["source"] == "lart101"
        held = int(frame) >= clips[name].first_held
        assert (row["truth"] == name) == held
