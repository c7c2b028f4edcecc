"""FeatureRing: bounded, preallocated, time-ordered across wrap-around, never raises on bad frames.

Real landmarks: 40 frames of a real clip of the letter L (tests/fixtures/ring/SOURCE.md).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pytest

from edge.features import (
    FEATURE_DIM,
    PATH_SCALE,
    PATH_X,
    PATH_Y,
    PRESENT,
    WINDOW_CHANNELS,
    normalize_landmarks,
)
from edge.observation import HandObservation
from edge.ringbuffer import FeatureRing

FIXTURE = Path(__file__).parent / "fixtures" / "ring" / "lart101_L_40frames.csv"


def load_frames() -> list[tuple[np.ndarray, str, float]]:
    """(landmarks (21, 3), handedness, aspect) per row of the fixture."""
    frames = []
    with FIXTURE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            coords = [float(row[f"{axis}{i}"]) for i in range(21) for axis in "xyz"]
            aspect = float(row["width"]) / float(row["height"])
            frames.append((np.array(coords, np.float32).reshape(21, 3), row["handedness"], aspect))
    return frames


FRAMES = load_frames()


def observation(i: int, t: float, handedness: str | None = None) -> HandObservation:
    landmarks, label, aspect = FRAMES[i % len(FRAMES)]
    return HandObservation(t=t, landmarks=landmarks, handedness=handedness or label, aspect=aspect)


def reference_window(
    frames: list[tuple[float, np.ndarray | None, np.ndarray | None]],
    t_end: float,
    duration: float,
    steps: int,
    max_gap: float,
) -> np.ndarray:
    """Straightforward loop version of the resampling contract, written from the docstring:
    frames are (t, features or None, landmarks or None); the path is the wrist relative to the
    newest hand in the window, in its palm sizes, and log of the palm size ratio."""
    out = np.zeros((steps, WINDOW_CHANNELS), np.float32)
    used: list[tuple[int, np.ndarray]] = []
    for k in range(steps):
        target = t_end - duration + duration / steps * (k + 1)
        earlier = [(t, f, lm) for t, f, lm in frames if t <= target + 1e-9]
        if not earlier:
            continue
        t, feats, landmarks = earlier[-1]
        if feats is not None and target - t <= max_gap:
            out[k, :FEATURE_DIM] = feats
            out[k, PRESENT] = 1.0
            used.append((k, landmarks))
    if used:
        aspect = FRAMES[0][2]

        def where(lm: np.ndarray) -> tuple[np.ndarray, float]:
            wrist = np.array([lm[0, 0] * aspect, lm[0, 1]])
            knuckles = (lm[[5, 9, 13, 17], :2] - lm[0, :2]) * [aspect, 1.0]
            return wrist, float(np.linalg.norm(knuckles, axis=1).mean())

        ref_wrist, ref_palm = where(used[-1][1])
        for k, lm in used:
            wrist, palm = where(lm)
            out[k, PATH_X : PATH_Y + 1] = (wrist - ref_wrist) / ref_palm
            out[k, PATH_SCALE] = np.log(palm / ref_palm)
    return out


def test_window_matches_the_resampling_contract_after_wrapping_around() -> None:
    ring = FeatureRing(capacity=16)
    pushed: list[tuple[float, np.ndarray | None, np.ndarray | None]] = []
    for i in range(40):  # 2.5 times the capacity: every slot is overwritten at least twice
        t = 10.0 + i / 30.0
        obs = observation(i, t)
        ring.push(obs)
        pushed.append((t, normalize_landmarks(obs.landmarks, aspect=obs.aspect), obs.landmarks))
    assert len(ring) == ring.capacity == 16

    t_end = pushed[-1][0]
    got = ring.window(t_end, duration_s=0.5, steps=30, max_gap_s=0.3, mirror_mode="never")
    want = reference_window(pushed[-16:], t_end, 0.5, 30, 0.3)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got[:, FEATURE_DIM].all()  # 0.5 s at 30 fps fits in 16 frames: every step has a hand


def test_window_older_than_the_ring_is_marked_absent_not_invented() -> None:
    ring = FeatureRing(capacity=8)
    for i in range(20):
        ring.push(observation(i, i / 30.0))
    # a 1 s window needs 30 frames; the 8 kept frames cover only its last quarter
    window = ring.window(19 / 30.0, duration_s=1.0, steps=30, max_gap_s=0.1, mirror_mode="never")
    present = window[:, FEATURE_DIM]
    assert present[-7:].all()
    assert not present[:20].any()
    assert not window[:20, :FEATURE_DIM].any()


def test_same_hand_gives_the_same_window_at_8_and_30_fps() -> None:
    windows = []
    for fps in (8.0, 30.0):
        ring = FeatureRing(FeatureRing.capacity_for(1.0, fps))
        n = int(1.5 * fps) + 1
        for i in range(n):
            ring.push(observation(5, i / fps))  # one held hand shape
        t_end = (n - 1) / fps
        windows.append(ring.window(t_end, 1.0, 30, 0.3, "never").copy())
    np.testing.assert_array_equal(windows[0], windows[1])
    assert windows[0][:, FEATURE_DIM].all()


def test_arrays_are_allocated_once_and_the_output_is_reused() -> None:
    ring = FeatureRing(capacity=12)
    buffers = (ring._t, ring._features, ring._present, ring._hand)
    first = ring.window(0.0, 1.0, 30, 0.3, "never")
    for i in range(100):
        ring.push(observation(i, i / 30.0))
        assert len(ring) <= 12
        again = ring.window(i / 30.0, 1.0, 30, 0.3, "auto")
        assert again is first
    now = (ring._t, ring._features, ring._present, ring._hand)
    assert all(a is b for a, b in zip(now, buffers, strict=True))
    assert ring.pushed == 100


def test_nan_and_inf_landmarks_count_as_no_hand_and_never_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ring = FeatureRing(capacity=32)
    bad_nan = FRAMES[0][0].copy()
    bad_nan[8, 1] = np.nan
    bad_inf = FRAMES[0][0].copy()
    bad_inf[4, 0] = np.inf
    degenerate = np.zeros((21, 3), np.float32)  # every point on the wrist: palm size 0
    with caplog.at_level(logging.WARNING, logger="edge.ringbuffer"):
        for i in range(30):
            t = i / 30.0
            if i in (27, 28, 29):
                landmarks = (bad_nan, bad_inf, degenerate)[i - 27]
                stored = ring.push(HandObservation(t=t, landmarks=landmarks, handedness="Right"))
                assert stored is False
            else:
                assert ring.push(observation(i, t)) is True
    assert ring.invalid_frames == 3
    assert len(ring) == 30
    assert "treated as 'no hand'" in caplog.text
    assert len([r for r in caplog.records if "no hand" in r.getMessage()]) == 1  # rate-limited

    window = ring.window(29 / 30.0, 1.0, 30, 0.3, "never")
    assert np.isfinite(window).all()
    assert window[-1, FEATURE_DIM] == 0.0  # the last three frames are "no hand"
    assert window[-4, FEATURE_DIM] == 1.0


def test_non_finite_timestamp_is_skipped_and_counted() -> None:
    ring = FeatureRing(capacity=4)
    ring.push(observation(0, 1.0))
    assert ring.push(observation(1, float("nan"))) is False
    assert ring.push(observation(1, None)) is False  # type: ignore[arg-type]
    assert ring.skipped_frames == 2
    assert len(ring) == 1
    assert ring.latest_t == 1.0
    assert ring.push(observation(2, np.float32(1.5))) is True  # numpy scalars are fine
    assert ring.latest_t == 1.5


def test_time_going_backwards_empties_the_ring_instead_of_breaking_time_order() -> None:
    ring = FeatureRing(capacity=16)
    for i in range(10):
        ring.push(observation(i, 100.0 + i / 30.0))
    ring.push(observation(10, 0.5))  # a replay restarted from its beginning
    assert ring.time_resets == 1
    assert len(ring) == 1
    assert ring.latest_t == 0.5
    window = ring.window(0.5, 1.0, 30, 0.3, "never")
    assert window[:, FEATURE_DIM].sum() == 1.0  # only the new frame, nothing from t=100


def test_no_hand_frames_are_stored_as_absent() -> None:
    ring = FeatureRing(capacity=64)
    for i in range(30):
        present = i < 15
        obs = observation(i, i / 30.0) if present else HandObservation(t=i / 30.0, landmarks=None)
        ring.push(obs)
    window = ring.window(29 / 30.0, 1.0, 30, 0.3, "never")
    assert window[:15, FEATURE_DIM].all()
    assert not window[15:].any()


def test_mirroring_is_decided_once_per_window_by_majority_handedness() -> None:
    def window_with(labels: list[str], mode: str) -> np.ndarray:
        ring = FeatureRing(capacity=64)
        for i, label in enumerate(labels):
            ring.push(observation(i, i / 30.0, handedness=label))
        return ring.window((len(labels) - 1) / 30.0, 1.0, 30, 0.3, mode).copy()

    mostly_left = ["Left" if i % 4 else "Right" for i in range(30)]  # flickers, 3 in 4 Left
    mostly_right = ["Right" if i % 4 else "Left" for i in range(30)]
    plain = window_with(mostly_left, "never")
    x = slice(0, FEATURE_DIM, 3)

    mirrored = window_with(mostly_left, "auto")
    np.testing.assert_array_equal(mirrored[:, x], -plain[:, x])  # every step, one decision
    np.testing.assert_array_equal(mirrored[:, 1:FEATURE_DIM:3], plain[:, 1:FEATURE_DIM:3])
    np.testing.assert_array_equal(mirrored[:, FEATURE_DIM], plain[:, FEATURE_DIM])

    np.testing.assert_array_equal(
        window_with(mostly_right, "auto"), window_with(mostly_right, "never")
    )
    np.testing.assert_array_equal(window_with(mostly_right, "always")[:, x], -plain[:, x])
    assert np.abs(plain[:, x]).sum() > 1.0  # the test would be empty on all-zero x

    tie = ["Left" if i % 2 else "Right" for i in range(30)]
    np.testing.assert_array_equal(window_with(tie, "auto"), window_with(tie, "never"))


def test_handedness_outside_the_window_does_not_decide_mirroring() -> None:
    ring = FeatureRing(capacity=128)
    for i in range(60):  # 1 s of "Left" then 1 s of "Right"
        ring.push(observation(i, i / 30.0, handedness="Left" if i < 30 else "Right"))
    t_end = 59 / 30.0
    auto = ring.window(t_end, 1.0, 30, 0.3, "auto").copy()
    never = ring.window(t_end, 1.0, 30, 0.3, "never")
    np.testing.assert_array_equal(auto, never)


def test_clear_and_bad_arguments() -> None:
    ring = FeatureRing(capacity=4)
    ring.push(observation(0, 0.0))
    ring.clear()
    assert len(ring) == 0
    assert ring.latest_t is None
    assert not ring.window(0.0, 1.0, 30, 0.3, "auto").any()
    with pytest.raises(ValueError, match="mirror_mode"):
        ring.window(0.0, 1.0, 30, 0.3, "sometimes")
    with pytest.raises(ValueError, match="capacity"):
        FeatureRing(1)
    assert FeatureRing.capacity_for(1.0, 30.0) >= 30
