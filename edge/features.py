"""The ONE feature normalisation shared by training, evaluation and the daemon.

Train/serve skew is the classic bug of landmark classifiers, so every path that turns MediaPipe
landmarks into model input goes through the functions here: `normalize_landmarks` for one hand in
one frame (its shape, and with `position=` where the hand is), and `resample_window` to turn a run
of timestamped frames (any camera rate) into the fixed-length window the streaming model takes.

Normalisation, in order:
1. aspect correction: MediaPipe divides x by the frame width and y by the height, so x (and z,
   which is on the scale of x) are multiplied by width/height; otherwise a 16:9 frame squashes
   the hand;
2. wrist-relative: landmark 0 becomes the origin (translation invariance);
3. scale: divided by the palm size, the mean 2-D distance from the wrist to the four finger
   knuckles (5, 9, 13, 17) (scale invariance; robust to one bent finger);
4. mirroring: a left hand is mirrored to a right hand (x negated) when asked.

z is kept. The result is 63 float32 values in MediaPipe's landmark order (x0, y0, z0, ... z20).

The shape alone cannot show what the hand's path does: the stroke of J and Z, the small bounce or
slide between the two letters of a double letter, the move from one letter to the next. So each
frame also has a position (wrist x and y after the aspect correction, and the palm size, in frame
units), and a window carries the PATH: every step's wrist relative to the window's newest hand, in
units of that hand's palm size, and the log of its palm size relative to it (towards or away from
the camera). In palm units the path means the same for a near and a far hand, on any camera.

Window layout per step (WINDOW_CHANNELS = 67): 63 shape values, the hand-present flag, then
PATH_X, PATH_Y, PATH_SCALE.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 21
COORDS = 3
FEATURE_DIM = NUM_LANDMARKS * COORDS  # 63 normalised coordinates per frame
PRESENT = FEATURE_DIM  # window channel: 1 where the step has a hand
PATH_X, PATH_Y, PATH_SCALE = FEATURE_DIM + 1, FEATURE_DIM + 2, FEATURE_DIM + 3
PATH_DIM = 3
WINDOW_CHANNELS = FEATURE_DIM + 1 + PATH_DIM  # shape, present, path: 67 per time step
POSITION_DIM = 3  # per frame: wrist x (aspect-corrected), wrist y, palm size; frame units
KNUCKLES = (5, 9, 13, 17)
PATH_LIMIT = 4.0  # palm units: a jump further than this (another "hand") is clipped
JUMP_PALMS = 3.0  # between two frames a moment apart: further than this is not the same hand
_MIN_PALM = 1e-6


class FeatureError(ValueError):
    """Landmarks that cannot be normalised (wrong shape, NaN, a hand of zero size)."""


def normalize_landmarks(
    landmarks: np.ndarray,
    *,
    aspect: float | np.ndarray = 1.0,
    mirror: bool | np.ndarray = False,
    out: np.ndarray | None = None,
    position: np.ndarray | None = None,
) -> np.ndarray:
    """Normalise landmarks of shape (21, 3), (63,), (N, 21, 3) or (N, 63) into (…, 63) float32.

    `aspect` is frame width / height (1.0 when unknown or already corrected); `mirror` flips a
    left hand to a right one. Both may be per-row arrays for a batch. Raises FeatureError for
    non-finite values or a degenerate hand, so bad input is named rather than propagated as NaN.
    `out` lets the daemon reuse one buffer per frame (no allocation in the hot loop); `position`
    ((3,) or (N, 3)), if given, receives each hand's wrist x, wrist y and palm size (x after the
    aspect correction, unmirrored), which `resample_window` turns into the path channels.
    """
    arr = np.asarray(landmarks, dtype=np.float32)
    single = arr.ndim in (1, 2) and arr.size == FEATURE_DIM
    try:
        pts = arr.reshape(-1, NUM_LANDMARKS, COORDS)
    except ValueError as exc:
        raise FeatureError(
            f"expected 21 landmarks x 3 coordinates, got an array of shape {arr.shape}"
        ) from exc
    if not np.isfinite(pts).all():
        raise FeatureError("landmarks contain NaN or infinite values")

    n = pts.shape[0]
    result = np.empty((n, NUM_LANDMARKS, COORDS), np.float32) if out is None else out
    result = result.reshape(n, NUM_LANDMARKS, COORDS)
    np.subtract(pts, pts[:, :1, :], out=result)

    aspect_arr = np.asarray(aspect, dtype=np.float32).reshape(-1, 1)
    result[:, :, 0] *= aspect_arr
    result[:, :, 2] *= aspect_arr

    knuckles = result[:, KNUCKLES, :2]
    palm = np.sqrt((knuckles**2).sum(axis=2)).mean(axis=1)
    if (palm < _MIN_PALM).any():
        raise FeatureError("degenerate hand: all knuckles sit on the wrist (palm size 0)")
    if position is not None:
        pos = position.reshape(n, POSITION_DIM)
        pos[:, 0] = pts[:, 0, 0] * aspect_arr[:, 0]
        pos[:, 1] = pts[:, 0, 1]
        pos[:, 2] = palm
    result /= palm.reshape(-1, 1, 1)

    mirror_arr = np.asarray(mirror, dtype=bool).reshape(-1)
    if mirror_arr.size == 1:
        if mirror_arr[0]:
            result[:, :, 0] *= -1.0
    else:
        result[mirror_arr, :, 0] *= -1.0

    flat = result.reshape(n, FEATURE_DIM)
    return flat[0] if single else flat


def resample_window(
    timestamps: np.ndarray,
    features: np.ndarray,
    present: np.ndarray,
    *,
    t_end: float,
    duration: float,
    steps: int,
    max_gap: float,
    positions: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Resample timestamped frames onto `steps` evenly spaced times ending at `t_end`.

    The model's window is defined in seconds, not frames, so a Pi 4 at 8 fps and a desktop at
    30 fps give the model the same time scale. Each step takes the latest frame at or before its
    time (zero-order hold, what a camera actually delivers); a step with no frame within `max_gap`
    seconds, or whose frame had no hand, is marked absent: features zero and the presence flag 0.
    Frames are never invented.

    With `positions` ((n, 3) from `normalize_landmarks(position=...)`), the path channels of each
    step with a hand hold its wrist relative to the newest hand in the window, divided by that
    hand's palm size, and log(palm size / that palm size); they stay 0 without positions.

    timestamps: (n,) ascending seconds; features: (n, 63); present: (n,) bool.
    Returns (steps, 67) float32.
    """
    window = np.zeros((steps, WINDOW_CHANNELS), np.float32) if out is None else out
    window.fill(0.0)
    n = len(timestamps)
    if n == 0:
        return window
    step_dt = duration / steps
    # step k sits at the end of its slot, so the last step is t_end itself
    targets = t_end - duration + step_dt * np.arange(1, steps + 1, dtype=np.float64)
    idx = np.searchsorted(timestamps, targets + 1e-9, side="right") - 1
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    age = targets - np.asarray(timestamps, dtype=np.float64)[safe]
    use = valid & (age <= max_gap) & np.asarray(present, dtype=bool)[safe]
    rows = safe[use]
    window[use, :FEATURE_DIM] = features[rows]
    window[use, PRESENT] = 1.0
    if positions is not None and len(rows):
        pos = positions[rows]
        ref = pos[-1]  # the newest hand in the window
        palm = max(float(ref[2]), _MIN_PALM)
        path = np.empty((len(rows), 3), np.float32)  # PATH_X, PATH_Y, PATH_SCALE
        path[:, :2] = (pos[:, :2] - ref[:2]) / palm
        path[:, 2] = np.log(np.maximum(pos[:, 2], _MIN_PALM) / palm)
        window[use, PATH_X:] = np.clip(path, -PATH_LIMIT, PATH_LIMIT)
    return window


def same_hand(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two positions (wrist x, wrist y, palm size; a moment apart) can be one hand
    moving: the wrist within JUMP_PALMS palm sizes, the palm size within a factor of 2. A leap
    further is another "hand" (a face, the other hand) or the tracker's glitch."""
    palm = max(float(before[2]), _MIN_PALM)
    jump = float(np.hypot(after[0] - before[0], after[1] - before[1])) / palm
    return jump <= JUMP_PALMS and 0.5 <= float(after[2]) / palm <= 2.0


def mirror_features(features: np.ndarray) -> np.ndarray:
    """Mirror normalised features (…, 63) or whole windows (…, 67) left-right in place (every x
    negated: the shape's and the path's) and return them.

    Normalisation is wrist-relative and the path is relative to the window's newest hand, so
    mirroring after them equals mirroring the image before: the ring buffer stores unmirrored
    frames and decides per window, as handedness flickers per frame.
    """
    features[..., 0:FEATURE_DIM:COORDS] *= -1.0
    if features.shape[-1] == WINDOW_CHANNELS:
        features[..., PATH_X] *= -1.0
    return features
