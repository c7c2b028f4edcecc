"""A bounded, preallocated, timestamped ring of normalised hand frames.

The landmark stage pushes one `HandObservation` per processed frame; the classifier asks for a
window defined in SECONDS (`window`), resampled to the model's fixed number of steps by
`edge.features.resample_window`, so the model sees the same time scale at 8 fps on a Pi 4 and at
30 fps on a desktop.

Why it looks the way it does:
- Every array is allocated once. Each row is written twice, at `i` and `i + capacity` (the
  "double write" ring), so the newest `len()` frames are always one contiguous, time-ordered
  slice: `resample_window` can binary-search it directly, with no copy and no unwrapping.
- Frames are stored unmirrored with their handedness label: MediaPipe's handedness flickers frame
  to frame, so mirroring is decided once per window (majority of labels) instead.
- Bad input never raises into the processing loop: NaN/inf or degenerate landmarks become a
  "no hand" frame (counted, logged at most once a minute of stream time), a non-finite timestamp
  is skipped (counted), and a timestamp that goes backwards (a replay that restarts, a new video)
  empties the ring rather than corrupting its time order.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from edge.features import (
    FEATURE_DIM,
    POSITION_DIM,
    WINDOW_CHANNELS,
    FeatureError,
    mirror_features,
    normalize_landmarks,
    resample_window,
)
from edge.observation import HandObservation

log = logging.getLogger(__name__)

MIN_CAMERA_FPS = 60.0  # a live ring holds a full window even for a 60 fps camera

MIRROR_MODES = ("auto", "never", "always")
_LEFT = 1  # handedness codes: +1 "Left", -1 "Right", 0 unknown or no hand
_RIGHT = -1
_LOG_EVERY_S = 60.0


class FeatureRing:
    """The last `capacity` frames: timestamps, 63 normalised features, the hand's position (for
    the path channels), hand present, handedness.

    `window()` returns a buffer owned by the ring and overwritten by the next call: copy it if
    you need to keep it.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"FeatureRing capacity must be at least 2, got {capacity}")
        self._capacity = int(capacity)
        size = 2 * self._capacity
        self._t = np.zeros(size, np.float64)
        self._features = np.zeros((size, FEATURE_DIM), np.float32)
        self._positions = np.zeros((size, POSITION_DIM), np.float32)
        self._present = np.zeros(size, bool)
        self._hand = np.zeros(size, np.int8)
        self._next = 0  # slot (0..capacity-1) the next frame is written to
        self._count = 0
        self._windows: dict[int, np.ndarray] = {}
        self.pushed = 0
        self.invalid_frames = 0  # landmarks that could not be normalised (NaN, inf, degenerate)
        self.skipped_frames = 0  # frames with a non-finite timestamp (not stored)
        self.time_resets = 0  # times the clock went backwards and the ring was emptied
        self._last_invalid_log_t = -math.inf

    @staticmethod
    def capacity_for(window_s: float, max_fps: float, margin: float = 1.5) -> int:
        """A capacity that holds a whole `window_s` window at `max_fps` frames per second."""
        return max(2, math.ceil(window_s * max_fps * margin) + 1)

    @classmethod
    def for_camera(cls, window_s: float, camera_fps: float) -> FeatureRing:
        """The ring of a live stream: a whole window at the camera's rate, and at least at
        MIN_CAMERA_FPS (a camera may deliver faster than it was asked to)."""
        return cls(cls.capacity_for(window_s, max(camera_fps, MIN_CAMERA_FPS)))

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._count

    @property
    def latest_t(self) -> float | None:
        """Timestamp of the newest frame, None when empty."""
        if self._count == 0:
            return None
        return float(self._t[self._next - 1 + self._capacity])

    def latest(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """Views of the newest frame: its features (63,), position (3,) and whether it had a
        hand. Valid until the next push."""
        slot = (self._next - 1) % self._capacity
        return self._features[slot], self._positions[slot], bool(self._present[slot])

    def clear(self) -> None:
        """Forget every frame (arrays stay allocated)."""
        self._count = 0
        self._next = 0

    def push(self, obs: HandObservation) -> bool:
        """Store one frame; returns whether it was stored with a usable hand. Never raises."""
        try:
            t = float(obs.t)  # also numpy scalars, e.g. np.float32 from a replay
        except (TypeError, ValueError):
            t = math.nan
        if not math.isfinite(t):
            self.skipped_frames += 1
            log.warning("frame with an unusable timestamp %r skipped", obs.t)
            return False
        latest = self.latest_t
        if latest is not None and t < latest:
            self.time_resets += 1
            log.warning(
                "frame time went backwards (%.3f s after %.3f s): window history cleared", t, latest
            )
            self.clear()

        slot = self._next
        row = self._features[slot]
        pos = self._positions[slot]
        present = False
        if obs.landmarks is not None:
            try:
                normalize_landmarks(obs.landmarks, aspect=obs.aspect, out=row, position=pos)
                present = True
            except (FeatureError, ValueError, TypeError) as exc:
                self.invalid_frames += 1
                if t - self._last_invalid_log_t >= _LOG_EVERY_S:
                    self._last_invalid_log_t = t
                    log.warning(
                        "unusable hand landmarks at t=%.3f s treated as 'no hand' (%s); "
                        "%d such frame(s) so far",
                        t,
                        exc,
                        self.invalid_frames,
                    )
        if not present:
            row.fill(0.0)
            pos.fill(0.0)
        hand = 0
        if present and obs.handedness == "Left":
            hand = _LEFT
        elif present and obs.handedness == "Right":
            hand = _RIGHT

        mirror_slot = slot + self._capacity
        self._t[slot] = self._t[mirror_slot] = t
        self._features[mirror_slot] = row
        self._positions[mirror_slot] = pos
        self._present[slot] = self._present[mirror_slot] = present
        self._hand[slot] = self._hand[mirror_slot] = hand
        self._next = (slot + 1) % self._capacity
        self._count = min(self._count + 1, self._capacity)
        self.pushed += 1
        return present

    def _span(self) -> slice:
        """The contiguous, time-ordered slice holding the newest `len()` frames."""
        end = self._next + self._capacity
        return slice(end - self._count, end)

    def window(
        self,
        t_end: float,
        duration_s: float,
        steps: int,
        max_gap_s: float,
        mirror_mode: str = "auto",
    ) -> np.ndarray:
        """The (steps, 67) model input for the `duration_s` seconds ending at `t_end`.

        Mirroring: 'always' mirrors, 'never' does not, 'auto' mirrors when more of the hand
        frames inside the window are labelled "Left" than "Right" (MediaPipe's label; ties and
        unlabelled frames do not mirror).
        """
        if mirror_mode not in MIRROR_MODES:
            raise ValueError(f"mirror_mode must be one of {MIRROR_MODES}, got {mirror_mode!r}")
        out = self._windows.get(steps)
        if out is None:
            out = self._windows[steps] = np.zeros((steps, WINDOW_CHANNELS), np.float32)
        span = self._span()
        times = self._t[span]
        resample_window(
            times,
            self._features[span],
            self._present[span],
            t_end=t_end,
            duration=duration_s,
            steps=steps,
            max_gap=max_gap_s,
            positions=self._positions[span],
            out=out,
        )
        if mirror_mode == "always" or (
            mirror_mode == "auto" and self._left_majority(times, span.start, t_end, duration_s)
        ):
            mirror_features(out)
        return out

    def _left_majority(self, times: np.ndarray, base: int, t_end: float, duration: float) -> bool:
        lo = base + int(np.searchsorted(times, t_end - duration, side="right"))
        hi = base + int(np.searchsorted(times, t_end, side="right"))
        if hi <= lo:
            return False
        return int(self._hand[lo:hi].sum(dtype=np.int64)) > 0
