"""The ONE normalisation: invariant to where the hand is, how big it is and the frame's aspect;
mirroring flips a left hand onto a right one; windows are resampled in time, not frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.dataset import load_landmark_csv
from edge.features import (
    FEATURE_DIM,
    PATH_SCALE,
    PATH_X,
    PATH_Y,
    POSITION_DIM,
    PRESENT,
    WINDOW_CHANNELS,
    FeatureError,
    mirror_features,
    normalize_landmarks,
    resample_window,
)

FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"


@pytest.fixture(scope="module")
def hands() -> np.ndarray:
    """Real hands (image-normalised MediaPipe values, 640x480 frames) from the fixture."""
    return load_landmark_csv(FIXTURE).coords.reshape(-1, 21, 3)[:20]


def test_translation_invariance(hands: np.ndarray) -> None:
    base = normalize_landmarks(hands, aspect=640 / 480)
    moved = hands + np.array([0.13, -0.07, 0.02], np.float32)
    assert np.allclose(normalize_landmarks(moved, aspect=640 / 480), base, atol=1e-5)


def test_scale_invariance(hands: np.ndarray) -> None:
    base = normalize_landmarks(hands)
    wrist = hands[:, :1]
    scaled = wrist + (hands - wrist) * 0.37
    assert np.allclose(normalize_landmarks(scaled), base, atol=1e-4)


def test_aspect_correction(hands: np.ndarray) -> None:
    """The same hand filmed in a 4:3 and a 16:9 frame gives the same features."""
    aspect_a, aspect_b = 640 / 480, 1280 / 720
    pixels = hands * np.array([640, 480, 640], np.float32)  # x, y, z in 4:3 pixels
    in_b = pixels / np.array([1280, 720, 1280], np.float32)
    a = normalize_landmarks(hands, aspect=aspect_a)
    b = normalize_landmarks(in_b, aspect=aspect_b)
    assert np.allclose(a, b, atol=1e-4)
    # and ignoring the aspect would be visibly wrong
    assert not np.allclose(normalize_landmarks(in_b, aspect=1.0), a, atol=1e-2)


def test_mirror_maps_left_hand_to_right(hands: np.ndarray) -> None:
    mirrored_image = hands.copy()
    mirrored_image[:, :, 0] = 1.0 - mirrored_image[:, :, 0]  # the same hand seen as a left hand
    right = normalize_landmarks(hands)
    assert np.allclose(normalize_landmarks(mirrored_image, mirror=True), right, atol=1e-5)
    assert not np.allclose(normalize_landmarks(mirrored_image), right, atol=1e-2)
    feats = normalize_landmarks(mirrored_image)
    assert np.allclose(mirror_features(feats), right, atol=1e-5)


def test_output_layout(hands: np.ndarray) -> None:
    one = normalize_landmarks(hands[0])
    assert one.shape == (FEATURE_DIM,) and one.dtype == np.float32
    assert np.allclose(one[:3], 0.0)
    palm = np.linalg.norm(one.reshape(21, 3)[[5, 9, 13, 17], :2], axis=1).mean()
    assert palm == pytest.approx(1.0, abs=1e-5)


def test_bad_landmarks_are_named() -> None:
    with pytest.raises(FeatureError, match="21 landmarks"):
        normalize_landmarks(np.zeros(60, np.float32))
    bad = np.ones((21, 3), np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(FeatureError, match="NaN"):
        normalize_landmarks(bad)


def test_window_is_resampled_in_time_not_frames(hands: np.ndarray) -> None:
    """8 fps and 30 fps streams of the same held hand give the same window."""
    feats = normalize_landmarks(hands[0])

    def window(fps: float) -> np.ndarray:
        t = np.arange(0, 2.0, 1 / fps)
        f = np.repeat(feats[None], len(t), axis=0)
        return resample_window(
            t, f, np.ones(len(t), bool), t_end=float(t[-1]), duration=1.0, steps=30, max_gap=0.3
        )

    slow, fast = window(8), window(30)
    assert slow.shape == (30, WINDOW_CHANNELS)
    assert np.allclose(slow, fast) and (slow[:, 63] == 1).all()


def path_window(hand: np.ndarray, wrist_path: np.ndarray, size: float, aspect: float):
    """A window of one real hand shape carried along `wrist_path` (palm units, (n, 2)) at a
    palm size of about `size` frame heights: the image a camera would give at 30 fps."""
    shape = (hand - hand[:1]) * [640 / 480, 1.0, 640 / 480]  # the fixture's 4:3 frames
    palm = np.linalg.norm(shape[[5, 9, 13, 17], :2], axis=1).mean()
    shape = shape * (size / palm) / [aspect, 1.0, aspect]  # into this camera's image units
    frames = []
    for dx, dy in wrist_path:
        frame = shape.copy()
        frame[:, 0] += 0.5 + dx * size / aspect
        frame[:, 1] += 0.5 + dy * size
        frames.append(frame)
    pts = np.asarray(frames, np.float32)
    pos = np.zeros((len(pts), POSITION_DIM), np.float32)
    feats = normalize_landmarks(pts, aspect=aspect, position=pos)
    t = np.arange(len(pts)) / 30.0
    return resample_window(
        t, feats, np.ones(len(t), bool), t_end=float(t[-1]), duration=0.6, steps=20,
        max_gap=0.3, positions=pos,
    )  # fmt: skip


def test_path_is_in_palm_units_of_the_newest_hand(hands: np.ndarray) -> None:
    """A Z-like stroke reads the same for a near hand in 4:3 and a far one in 16:9; the newest
    step is the origin, and a hand that only holds still has no path."""
    u = np.linspace(0, 1, 25)
    stroke = np.stack([np.interp(u, [0, 1 / 3, 2 / 3, 1], [0, 1, 0, 1]), 1.2 * u], axis=1)
    near = path_window(hands[0], stroke, 0.2, 640 / 480)
    far = path_window(hands[0], stroke, 0.06, 1280 / 720)
    np.testing.assert_allclose(near, far, atol=1e-4)
    assert np.allclose(near[-1, PATH_X:], 0.0)
    assert near[:, PATH_X].min() < -0.9 and near[:, PATH_Y].min() < -0.8  # came from up-left
    assert np.allclose(near[:, PATH_SCALE], 0.0, atol=1e-5)
    still = path_window(hands[0], np.zeros((25, 2)), 0.2, 640 / 480)
    assert np.allclose(still[:, PATH_X:], 0.0, atol=1e-6) and (still[:, PRESENT] == 1).all()


def test_mirroring_a_window_mirrors_its_path(hands: np.ndarray) -> None:
    u = np.linspace(0, 1, 25)
    stroke = np.stack([u, 0.5 * u], axis=1)
    window = path_window(hands[0], stroke, 0.15, 640 / 480)
    flipped = mirror_features(window.copy())
    np.testing.assert_allclose(flipped[:, PATH_X], -window[:, PATH_X])
    np.testing.assert_allclose(flipped[:, PATH_Y:], window[:, PATH_Y:])
    np.testing.assert_allclose(flipped[:, 0:FEATURE_DIM:3], -window[:, 0:FEATURE_DIM:3])
