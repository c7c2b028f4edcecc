"""The landmark stage: real MediaPipe (the shipped bundle) on real frames of the lart101 clips.

The landmarks in ../shared/data/sequences were extracted with the same bundle in VIDEO mode, so
HandTracker must reproduce them (the CSV keeps 5 decimals). MediaPipe takes a few seconds per
clip on a shared core: these tests use few clips.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edge.config import REPO_ROOT, SHARED_DATA_DIR, load_config
from edge.landmarks import (
    SIZE_CHANGE_FRAMES,
    FrameError,
    HandTracker,
    LandmarkModelError,
    check_frame,
)
from edge.sources import OpenCVSource

DATA = SHARED_DATA_DIR
MODEL = REPO_ROOT / "models" / "hand_landmarker.task"


def recorded(sequence: str) -> dict[int, dict[str, str]]:
    with (DATA / "sequences" / "lart101.csv").open(newline="") as handle:
        return {int(r["frame"]): r for r in csv.DictReader(handle) if r["sequence"] == sequence}


def test_tracker_reproduces_the_recorded_landmarks_of_a_real_clip() -> None:
    rows = recorded("lart101:H")
    source = OpenCVSource(DATA / "clips" / "lart101" / "H.mp4", realtime=False)
    source.open()
    found, worst = [], 0.0
    with HandTracker.from_config(load_config()) as tracker:
        while (frame := source.read()) is not None:
            obs = tracker.detect(frame.image, frame.t)
            found.append(obs.has_hand)
            row = rows.get(frame.index)
            if obs.has_hand and row is not None:
                ref = np.array([float(row[f"{a}{i}"]) for i in range(21) for a in "xyz"])
                worst = max(worst, float(np.abs(ref.reshape(21, 3) - obs.landmarks).max()))
                assert obs.handedness == row["handedness"]
                assert obs.score == pytest.approx(float(row["score"]), abs=1e-3)
                assert obs.aspect == pytest.approx(360 / 640)
    source.close()
    assert found == [i in rows for i in range(len(found))]  # a hand in exactly the same frames
    assert worst < 1e-4


def test_tracker_guards_timestamps_and_survives_bad_frames() -> None:
    source = OpenCVSource(DATA / "clips" / "lart101" / "L.mp4", realtime=False)
    source.open()
    frames = [source.read() for _ in range(100)]
    source.close()
    held = frames[95].image  # the raised hand, held
    tracker = HandTracker(MODEL)
    with tracker:
        assert tracker.detect(held, 1.0).has_hand
        # the same time again, and time going backwards (a camera reopened): no MediaPipe error
        assert tracker.detect(held, 1.0).has_hand
        assert tracker.detect(held, 0.5).has_hand
        black = np.zeros_like(held)
        assert not tracker.detect(black, 1.1).has_hand
        with pytest.raises(FrameError, match="expected height x width x 3"):
            tracker.detect(held[:, :, 0], 1.2)
        with pytest.raises(FrameError, match="too small"):
            tracker.detect(held[:7], 1.3)  # a truncated frame
        with pytest.raises(FrameError, match="dtype float32"):
            tracker.detect(held.astype(np.float32), 1.4)
        # one frame of another size (a short or resized read) is skipped: MediaPipe tracks from
        # frame to frame, and an odd frame throws its landmarks off for several
        smaller = np.ascontiguousarray(held[::3, ::2])
        with pytest.raises(FrameError, match=r"frame of 180x214 pixels in a stream of 360x640"):
            tracker.detect(smaller, 1.5)
        assert tracker.detect(held, 1.6).has_hand
        # ... while frames of a new size that keeps coming are the camera's new mode
        for k in range(SIZE_CHANGE_FRAMES - 1):
            with pytest.raises(FrameError, match="in a stream of 360x640"):
                tracker.detect(smaller, 1.7 + k / 10)
        obs = tracker.detect(smaller, 2.0)
        assert obs.aspect == pytest.approx(smaller.shape[1] / smaller.shape[0])
    with pytest.raises(RuntimeError, match="closed"):
        tracker.detect(held, 2.0)


def test_lite_bundle_loads_and_tracks_the_hand() -> None:
    """The Pi 4 option (config landmarks.model): same hand, same frames, close landmarks."""
    source = OpenCVSource(DATA / "clips" / "lart101" / "O.mp4", realtime=False)
    source.open()
    frames = [source.read() for _ in range(60)][30:]  # the hand raised into O
    source.close()
    lite_model = MODEL.with_name("hand_landmarker_lite.task")
    with HandTracker(MODEL) as full, HandTracker(lite_model) as lite:
        pairs = [(full.detect(f.image, f.t), lite.detect(f.image, f.t)) for f in frames]
    assert all(a.has_hand and b.has_hand for a, b in pairs)
    worst = max(float(np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).max()) for a, b in pairs)
    assert worst < 0.05  # image-normalised: within a few pixels of the full model


def test_check_frame_makes_views_contiguous() -> None:
    image = np.zeros((64, 96, 3), np.uint8)
    flipped = image[:, ::-1]
    assert check_frame(flipped).flags.c_contiguous
    with pytest.raises(FrameError, match="not an image array"):
        check_frame(None)


def test_missing_or_broken_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(LandmarkModelError, match=r"nope\.task: hand landmark model not found"):
        HandTracker(tmp_path / "nope.task")
    broken = tmp_path / "broken.task"
    broken.write_bytes(MODEL.read_bytes()[:4096])  # a truncated download
    with pytest.raises(LandmarkModelError, match=r"broken\.task: MediaPipe cannot load it"):
        HandTracker(broken)
    # a bundle whose palm detector lacks MediaPipe's metadata (the old lite bundle)
    odd = tmp_path / "odd.task"
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(odd, "w") as dst:
        dst.writestr("hand_detector.tflite", _strip_metadata(src.read("hand_detector.tflite")))
        dst.writestr("hand_landmarks_detector.tflite", src.read("hand_landmarks_detector.tflite"))
    with pytest.raises(LandmarkModelError, match=r"odd\.task: MediaPipe cannot load it"):
        HandTracker(odd)


def _strip_metadata(model: bytes) -> bytes:
    """Rename the TFLITE_METADATA entry so MediaPipe no longer finds it (same length)."""
    assert model.count(b"TFLITE_METADATA") == 1
    return model.replace(b"TFLITE_METADATA", b"XFLITE_METADATA")
