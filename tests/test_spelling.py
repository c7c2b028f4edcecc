"""edge.spelling: continuous fingerspelling from real single frames, as a camera would see it.

Real hands from tests/fixtures/letters_small.csv (A, B, L, V, Y of two webcam signers); J and Z
strokes are drawn with one of those shapes, since the stroke is about the path.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.config import REPO_ROOT
from edge.dataset import load_landmark_csv, load_many
from edge.features import POSITION_DIM, normalize_landmarks
from edge.spelling import HandPool, Speller, signer_pools

FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"


@pytest.fixture(scope="module")
def table():
    return load_landmark_csv(FIXTURE)


@pytest.fixture(scope="module")
def pool(table) -> HandPool:
    return HandPool.from_table(table, "t32rahman")


def letters_in_order(stream) -> str:
    """The letters the truth shows, one per run."""
    runs = [
        c for i, c in enumerate(stream.truth) if c != "_" and (i == 0 or stream.truth[i - 1] != c)
    ]
    return "".join(runs)


@pytest.mark.parametrize("rate", [1.5, 2.0, 3.0, 5.0])
def test_a_word_comes_out_at_the_rate_asked_with_its_letters_in_order(pool, rate) -> None:
    stream = Speller(seed=1).spell("BABY", pool, rate)
    assert stream.rate == pytest.approx(rate, rel=0.05)
    assert letters_in_order(stream) == "BABY"
    assert stream.present.any() and not stream.present[0]  # the hand rises into view
    assert not stream.present[-1] or stream.truth[-1] == "_"
    holds = stream.phase == "hold"
    assert holds.any() and (stream.truth[holds] != "_").all() and stream.certain[holds].all()


def test_the_landmarks_are_the_sources_real_shapes_in_an_image(pool, table) -> None:
    """Normalised by the daemon's own feature code, a held frame is one of the source's photos
    (plus the tracker jitter the generator adds)."""
    stream = Speller(seed=2).spell("L", pool, 1.0)
    held = np.flatnonzero((stream.phase == "hold") & stream.present)
    feats = normalize_landmarks(stream.landmarks[held], aspect=stream.width / stream.height)
    real = table.features()[(table.labels == "L") & (table.source == "t32rahman")]
    nearest = np.abs(feats[:, None, :] - real[None]).mean(axis=2).min(axis=1)
    assert nearest.max() < 0.08  # palm units: jitter and a small wobble, not another hand
    assert (stream.landmarks[stream.present, :, :2] > -0.5).all()


def test_a_double_letter_has_a_release_and_a_long_hold_has_none(pool) -> None:
    double = Speller(seed=3).spell("ALL", pool, 2.0)
    assert (double.phase == "release").any()
    assert (double.truth[double.phase == "release"] == "_").any()
    assert letters_in_order(double) == "AL" + "L"
    single = Speller(seed=3).spell("L", pool, 0.5)
    assert not (single.phase == "release").any()


def test_j_and_z_are_strokes_of_the_wrist(table) -> None:
    shapes = HandPool.from_table(table, "t32rahman").shapes
    pool = HandPool("strokes", {"J": shapes["Y"], "Z": shapes["L"], "A": shapes["A"]}, "Right")
    for letter in "JZ":
        stream = Speller(seed=4).spell(f"A{letter}A", pool, 2.0)
        stroke = stream.present & (stream.phase == "stroke")
        assert stroke.any() and (stream.truth[stroke] == letter).all()
        pos = np.zeros((int(stroke.sum()), POSITION_DIM), np.float32)
        normalize_landmarks(
            stream.landmarks[stroke], aspect=stream.width / stream.height, position=pos
        )
        travel = np.linalg.norm(pos[-1, :2] - pos[0, :2]) / pos[0, 2]
        assert travel > 0.7  # palm sizes: the stroke moves the hand, not just its shape


def test_seeded_and_refuses_what_the_source_cannot_spell(pool) -> None:
    a, b = Speller(seed=7).spell("BY", pool, 3.0), Speller(seed=7).spell("BY", pool, 3.0)
    assert np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.truth, b.truth)
    with pytest.raises(ValueError, match="t32rahman has no I, Q, U, Z"):
        Speller(seed=7).spell("QUIZ", pool, 2.0)
    with pytest.raises(ValueError, match="A-Z"):
        Speller(seed=7).spell("HI!", pool, 2.0)


def test_a_source_of_several_people_gives_one_pool_per_person() -> None:
    rows = load_many([FIXTURE])
    names = sorted(p.source for p in signer_pools(rows))
    assert names == ["t32rahman", "vedantborse-ai"]  # one signer each in the fixture


def test_the_committed_word_sets_are_what_their_script_builds(tmp_path: Path) -> None:
    """models/eval/words/make_word_streams.py rebuilds test_words.csv.gz byte for byte from
    ../shared/data (so every word-level number can be rerun; val_words.csv.gz is made by the
    same code with another seed and sources)."""
    words = REPO_ROOT / "models" / "eval" / "words"
    data = REPO_ROOT.parent / "shared" / "data"
    if not (data / "landmarks").is_dir():
        pytest.fail(f"{data} is missing: the word sets are built from the shared data")
    script = words / "make_word_streams.py"
    subprocess.run(
        [sys.executable, str(script), "--split", "test", "--out", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    name = "test_words.csv.gz"
    with gzip.open(tmp_path / name, "rb") as new, gzip.open(words / name, "rb") as old:
        assert new.read() == old.read()
    # and the compressed file too: no timestamp in its gzip header
    assert (tmp_path / name).read_bytes() == (words / name).read_bytes()
