"""What the landmark stage hands to the rest of the pipeline for one frame.

Live camera frames (through MediaPipe) and replayed landmark CSVs both become HandObservation, so
everything after the landmark stage runs exactly the same in both cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class HandObservation:
    """One frame's hand, or its absence.

    t: seconds on a monotonic clock (live) or the stream's own clock (video file, replay);
    landmarks: (21, 3) float32 in MediaPipe's image-normalised coordinates, None when no hand;
    handedness: MediaPipe's label ("Left"/"Right", selfie convention) or None when unknown;
    aspect: frame width / height, for `features.normalize_landmarks` (1.0 when unknown).
    """

    t: float
    landmarks: np.ndarray | None
    handedness: str | None = None
    score: float = 0.0
    aspect: float = 1.0

    @property
    def has_hand(self) -> bool:
        return self.landmarks is not None
