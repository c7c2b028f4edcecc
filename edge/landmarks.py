"""The landmark stage: MediaPipe Tasks HandLandmarker in VIDEO mode, one frame → HandObservation.

VIDEO mode tracks the hand from frame to frame (the palm detector only runs again when tracking
is lost), which is what makes it fast enough on a Pi; it requires strictly increasing integer
millisecond timestamps, so `detect` guards them (a camera reopened after an outage, or two frames
in the same millisecond, would otherwise make MediaPipe raise). One hand is tracked: the signer's.

Bad frames are named instead of crashing the loop: FrameError for an image that is not H×W×3
uint8 (truncated, wrong type), and landmarks that come back NaN or infinite count as "no hand".
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge import nativelog
from edge.errors import Sign2SoundError
from edge.modelfiles import verify_against
from edge.observation import HandObservation

log = logging.getLogger(__name__)

MIN_FRAME_SIDE = 32  # smaller than this is a truncated or corrupt frame, not a camera image


class LandmarkModelError(Sign2SoundError):
    """The HandLandmarker bundle is missing or MediaPipe cannot load it (names the file)."""


class FrameError(ValueError):
    """A frame the landmark stage cannot use (says what is wrong with it)."""


@contextlib.contextmanager
def _tensorflow_hidden() -> Iterator[None]:
    """Import MediaPipe as on the device, where TensorFlow is not installed.

    mediapipe's tasks import `tensorflow.tools.docs` when TensorFlow is importable (only for an
    API docs generator): on a development machine with the training extra that loads all of
    TensorFlow, seconds of start-up and hundreds of MB the daemon never needs. Marking it absent
    for the duration of the import makes mediapipe take its own fallback; nothing else changes.
    """
    if "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # an import now raises
    try:
        yield
    finally:
        if "tensorflow" in sys.modules and sys.modules["tensorflow"] is None:
            del sys.modules["tensorflow"]


SIZE_CHANGE_FRAMES = 3  # frames of a new size in a row: the camera changed mode, take it


def check_frame(image: object) -> np.ndarray:
    """Return the image as a C-contiguous H×W×3 uint8 array or raise FrameError saying why."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"frame is {type(image).__name__}, not an image array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise FrameError(f"frame has shape {image.shape}, expected height x width x 3 (RGB)")
    if image.dtype != np.uint8:
        raise FrameError(f"frame has dtype {image.dtype}, expected uint8")
    if min(image.shape[:2]) < MIN_FRAME_SIDE:
        raise FrameError(f"frame of {image.shape[1]}x{image.shape[0]} pixels is too small")
    return np.ascontiguousarray(image)


class HandTracker:
    """MediaPipe HandLandmarker (VIDEO mode, one hand). Close it (or use `with`) to free it."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise LandmarkModelError(
                f"{self.model_path}: hand landmark model not found "
                "(models/build_hand_landmarker.sh rebuilds it)"
            )
        with _tensorflow_hidden():
            from mediapipe.tasks.python import BaseOptions, vision

        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=1,
            min_hand_detection_confidence=min_detection_confidence,
            min_hand_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        try:
            with nativelog.captured("MediaPipe"):
                self._landmarker = vision.HandLandmarker.create_from_options(options)
        except Exception as exc:  # MediaPipe raises RuntimeError, ValueError, FileNotFoundError
            raise LandmarkModelError(
                f"{self.model_path}: MediaPipe cannot load it ({exc})"
            ) from exc
        self._last_ts_ms = -1
        self._size: tuple[int, int] | None = None  # the camera's frame size, once seen
        self._odd_sizes = 0  # frames of another size in a row
        self.frames = 0
        self.hands = 0
        self.non_finite = 0

    def _check_size(self, size: tuple[int, int]) -> None:
        """A frame of another size than the stream's is skipped (FrameError), unless the size
        stays: MediaPipe tracks from one frame to the next, and one odd frame (a short or resized
        read) would throw its landmarks off for several frames, reading as the hand moving (a
        letter released). SIZE_CHANGE_FRAMES frames of the new size in a row are the camera's
        new mode and are taken."""
        if self._size is None or size == self._size:
            self._size = size
            self._odd_sizes = 0
            return
        self._odd_sizes += 1
        if self._odd_sizes >= SIZE_CHANGE_FRAMES:
            log.info(
                "camera frames are now %dx%d (were %dx%d)", size[1], size[0], *self._size[::-1]
            )
            self._size = size
            self._odd_sizes = 0
            return
        raise FrameError(
            f"frame of {size[1]}x{size[0]} pixels in a stream of {self._size[1]}x{self._size[0]}"
        )

    @classmethod
    def from_config(cls, config) -> HandTracker:  # config: edge.config.Config
        lm = config.landmarks
        verify_against(config.resolve_path(lm.model), config.checksums_path())  # SHA256SUMS
        return cls(
            config.resolve_path(lm.model),
            min_detection_confidence=lm.min_detection_confidence,
            min_presence_confidence=lm.min_presence_confidence,
            min_tracking_confidence=lm.min_tracking_confidence,
        )

    def detect(self, image_rgb: np.ndarray, t: float) -> HandObservation:
        """Find the hand in one RGB frame taken at t seconds (FrameError for an unusable frame)."""
        import mediapipe as mp

        if self._landmarker is None:
            raise RuntimeError("HandTracker is closed")
        image = check_frame(image_rgb)
        self._check_size(image.shape[:2])
        ts_ms = int(round(t * 1000.0))
        if ts_ms <= self._last_ts_ms:
            ts_ms = self._last_ts_ms + 1  # MediaPipe VIDEO mode rejects non-increasing stamps
        self._last_ts_ms = ts_ms
        height, width = image.shape[:2]
        aspect = width / height
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        if self.frames == 0:  # the graph's lazy start: absl's warnings (see edge.nativelog)
            with nativelog.captured("MediaPipe"):
                result = self._landmarker.detect_for_video(mp_image, ts_ms)
        else:
            result = self._landmarker.detect_for_video(mp_image, ts_ms)
        self.frames += 1
        if not result.hand_landmarks:
            return HandObservation(t=t, landmarks=None, aspect=aspect)
        points = np.array([(p.x, p.y, p.z) for p in result.hand_landmarks[0]], dtype=np.float32)
        if points.shape != (21, 3) or not np.isfinite(points).all():
            self.non_finite += 1
            log.debug("frame at %.3f s: MediaPipe returned unusable landmarks", t)
            return HandObservation(t=t, landmarks=None, aspect=aspect)
        category = result.handedness[0][0] if result.handedness else None
        self.hands += 1
        return HandObservation(
            t=t,
            landmarks=points,
            handedness=category.category_name if category else None,
            score=float(category.score) if category else 0.0,
            aspect=aspect,
        )

    def close(self) -> None:
        if self._landmarker is not None:
            with nativelog.captured("MediaPipe"):  # LiteRT's "DestroyAccelerator" lines
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
