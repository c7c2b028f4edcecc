"""SigningHandGate: a new hand is on probation until it moves; one that never moves never spells.

Frames are real hands (tests/fixtures/letters_small.csv) placed in a 640x480 image, normalised by
the real feature code; the gate sees what the pipeline gives it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.dataset import load_landmark_csv
from edge.features import POSITION_DIM, normalize_landmarks
from edge.hand_gate import TRACK_GAP_S, SigningHandGate

FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"
ASPECT = 640 / 480
N_LABELS = 6


@pytest.fixture(scope="module")
def hands() -> np.ndarray:
    return load_landmark_csv(FIXTURE).coords.reshape(-1, 21, 3)


def seen(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.zeros(POSITION_DIM, np.float32)
    return normalize_landmarks(landmarks, aspect=ASPECT, position=pos), pos


def feed(gate: SigningHandGate, frames) -> list[tuple[float, bool]]:
    """frames: (t, landmarks or None); returns what the decoder got: (t, had probs)."""
    probs = np.full(N_LABELS, 1 / N_LABELS, np.float32)
    out = []
    for t, lm in frames:
        got = gate.admit(t, None) if lm is None else gate.admit(t, probs, *seen(lm))
        out.extend((ft, fp is not None) for ft, fp in got)
    return out


def still(hand: np.ndarray, t0: float, seconds: float, fps: float = 15.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    return [(t0 + i / fps, hand + rng.normal(0, 0.001, hand.shape)) for i in range(n)]


def test_a_hand_that_never_moves_reaches_the_decoder_only_as_no_hand(hands) -> None:
    gate = SigningHandGate(still_s=2.0, min_motion=0.5, n_labels=N_LABELS)
    frames = [(i / 15, None) for i in range(10)] + still(hands[0], 10 / 15, 5.0)
    got = feed(gate, frames)
    assert [t for t, _ in got] == pytest.approx([t for t, _ in frames])  # in order, none lost
    assert not any(has for _, has in got)
    assert gate.still_tracks == 1


def test_a_hand_that_arrives_spells_and_nothing_it_did_is_lost(hands) -> None:
    gate = SigningHandGate(still_s=2.0, min_motion=0.5, n_labels=N_LABELS)
    hand = hands[0]
    rise = [(i / 15, hand + np.array([0, 0.3 * (1 - i / 8), 0], np.float32)) for i in range(9)]
    frames = rise + still(hand, 9 / 15, 2.0)
    got = feed(gate, frames)
    assert len(got) == len(frames) and all(has for _, has in got)


def test_a_hand_already_formed_is_held_back_then_passed_on_when_it_changes_letter(hands) -> None:
    """MediaPipe may pick a hand up only once it holds its first letter: that letter waits for
    the hand's first change (here to another letter 1 s later), then reaches the decoder."""
    gate = SigningHandGate(still_s=2.0, min_motion=0.5, n_labels=N_LABELS)
    first = hands[0]
    second = hands[-1] - hands[-1][0] + first[0]  # another letter, formed at the same place
    assert gate.admit(0.0, np.ones(N_LABELS, np.float32), *seen(first)) == []
    held = still(first, 1 / 15, 1.0)
    assert feed(gate, held) == []  # still on probation: nothing yet
    assert gate.holding == 1 + len(held)
    got = feed(gate, [(1.2, second)])
    assert len(got) == 2 + len(held) and all(has for _, has in got)
    assert [t for t, _ in got] == sorted(t for t, _ in got)


def test_a_jump_to_somewhere_else_is_a_new_hand_on_probation(hands) -> None:
    """The tracker jumping from the signing hand to the face: the face must prove itself."""
    gate = SigningHandGate(still_s=1.0, min_motion=0.5, n_labels=N_LABELS)
    hand = hands[0]
    rise = [(i / 15, hand + np.array([0, 0.3 * (1 - i / 8), 0], np.float32)) for i in range(9)]
    face = hand + np.array([0.45, -0.4, 0], np.float32)  # many palm sizes away, same size
    got = feed(gate, rise + still(face, 10 / 15, 3.0))
    signing = [has for _, has in got]
    assert all(signing[: len(rise)]) and not any(signing[len(rise) :])


def test_a_short_dropout_keeps_the_track_a_long_one_starts_a_new_one(hands) -> None:
    gate = SigningHandGate(still_s=1.0, min_motion=0.5, n_labels=N_LABELS)
    hand = hands[0]
    rise = [(i / 15, hand + np.array([0, 0.3 * (1 - i / 8), 0], np.float32)) for i in range(9)]
    feed(gate, rise)
    back = feed(gate, [(0.7, None), (0.8, hand)])  # lost for one frame: still signing
    assert back == [(0.7, False), (0.8, True)]
    gone = [(0.8 + k / 15, None) for k in range(1, int((TRACK_GAP_S + 0.2) * 15))]
    assert all(not has for _, has in feed(gate, gone))
    later = gone[-1][0] + 1 / 15
    assert feed(gate, [(later, hand)]) == []  # back after a long time away: on probation again


def test_a_camera_outage_is_no_time_without_a_hand(hands) -> None:
    """No frames at all for seconds (the camera unplugged): the hand that comes back is the
    same signer's, not a new hand on probation."""
    gate = SigningHandGate(still_s=1.0, min_motion=0.5, n_labels=N_LABELS)
    hand = hands[0]
    rise = [(i / 15, hand + np.array([0, 0.3 * (1 - i / 8), 0], np.float32)) for i in range(9)]
    feed(gate, rise)
    assert feed(gate, [(5.0, hand), (5.067, hand)]) == [(5.0, True), (5.067, True)]


def test_off_passes_every_frame_at_once(hands) -> None:
    gate = SigningHandGate(still_s=0.0, min_motion=0.5, n_labels=N_LABELS)
    frames = still(hands[0], 0.0, 3.0)
    assert feed(gate, frames) == [(t, True) for t, _ in frames]


def test_the_end_of_a_stream_lets_nothing_on_probation_spell(hands) -> None:
    gate = SigningHandGate(still_s=2.0, min_motion=0.5, n_labels=N_LABELS)
    assert feed(gate, still(hands[0], 0.0, 1.0)) == []
    assert all(fp is None for _, fp in gate.end())
    assert gate.holding == 0
