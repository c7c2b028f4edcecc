"""Only a signing hand spells: a "hand" that appears and never moves is held back, then dropped.

MediaPipe sometimes reports a hand on the signer's face (high score, static) while both hands are
down. Its landmarks look like a hand, and a short window cannot tell it from a letter held still,
but its history can: a signer's hand arrives (rises into view, forms letters, moves between them);
the face "hand" appears from nowhere and stays put. So every new hand track (the first hand after
`TRACK_GAP_S` without one, or a hand that jumped too far between frames to be the same one) is
on probation: its frames are held back from the decoder until the hand has moved `min_motion`
palm sizes from where it appeared, or its shape has changed that much (a tenth of it per
landmark is a tracker's jitter, a new letter is more). Then they go to the decoder in order, late
but complete, so a signer's first letter is never lost. A track still unproven after `still_s`
is taken as not a signing hand: its frames reach the decoder as "no hand" (a word in progress
still ends), and so do its next ones until it moves. Only frames seen without a hand start a
new track: a camera outage (no frames at all) does not, so the signer's hand is still theirs
when the camera is back.

Bounded: the held-back frames live in one preallocated buffer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge.features import FEATURE_DIM, same_hand

TRACK_GAP_S = 0.5  # frames without a hand for longer than this: the next hand is a new track
SHAPE_WEIGHT = 2.5  # a mean landmark change of 0.2 palm sizes counts like 0.5 of motion
_MAX_FPS = 120.0

Frame = tuple[float, np.ndarray | None]


class SigningHandGate:
    """`admit(t, probs, shape, position)` per frame -> the (t, probs or None) frames the decoder
    may see now, in order. `still_s` 0 turns the gate off (every frame passes at once)."""

    def __init__(self, still_s: float, min_motion: float, n_labels: int) -> None:
        self.still_s = float(still_s)
        self.min_motion = float(min_motion)
        cap = max(2, math.ceil(self.still_s * _MAX_FPS) + 1)
        self._t = np.zeros(cap, np.float64)
        self._probs = np.zeros((cap, n_labels), np.float32)
        self._has = np.zeros(cap, bool)
        self._n = 0
        self._state = "none"  # none | probation | signing | still
        self._start_t = 0.0
        self._last_hand_t = -math.inf
        self._last_t = -math.inf
        self._no_hand_s = 0.0  # time seen without a hand since the last hand (frame durations)
        self._anchor_pos = np.zeros(3, np.float32)
        self._anchor_shape = np.zeros(FEATURE_DIM, np.float32)
        self._last_pos = np.zeros(3, np.float32)
        self.still_tracks = 0  # tracks dropped as not a signing hand (a count to inspect)

    @property
    def holding(self) -> int:
        """Frames held back right now."""
        return self._n

    def admit(
        self,
        t: float,
        probs: np.ndarray | None,
        shape: np.ndarray | None = None,
        position: np.ndarray | None = None,
    ) -> Sequence[Frame]:
        if self.still_s <= 0:
            return ((t, probs),)
        dt = min(max(t - self._last_t, 0.0), TRACK_GAP_S) if math.isfinite(self._last_t) else 0.0
        self._last_t = t
        if probs is None or shape is None or position is None:
            self._no_hand_s += dt
            return self._no_hand(t)
        out: list[Frame] = []
        if self._is_new_track(t, position):
            out.extend(self._release_as_no_hand())
            self._state = "probation"
            self._start_t = t
            self._anchor_pos[:] = position
            self._anchor_shape[:] = shape
        self._last_hand_t = t
        self._no_hand_s = 0.0
        self._last_pos[:] = position
        if self._state == "signing":
            out.append((t, probs))
            return out
        if self._moved(shape, position):
            self._state = "signing"
            out.extend(self._release_held())
            out.append((t, probs))
            return out
        if self._state == "still":
            out.append((t, None))
            return out
        self._hold(t, probs)
        if t - self._start_t >= self.still_s or self._n >= len(self._t):
            self._state = "still"
            self.still_tracks += 1
            out.extend(self._release_as_no_hand())
        return out

    def end(self) -> list[Frame]:
        """The stream ended: whatever is held back goes out as "no hand" (it never proved to
        be a signing hand), and the track is forgotten."""
        out = self._release_as_no_hand()
        self._state = "none"
        return out

    def reset(self) -> None:
        """Forget the track (the clock restarted); nothing held is passed on."""
        self._n = 0
        self._state = "none"
        self._last_hand_t = -math.inf
        self._last_t = -math.inf
        self._no_hand_s = 0.0

    # -- inside ------------------------------------------------------------------------------
    def _is_new_track(self, t: float, position: np.ndarray) -> bool:
        if self._state == "none" or self._no_hand_s > TRACK_GAP_S or t < self._last_hand_t:
            return True
        return not same_hand(self._last_pos, position)

    def _moved(self, shape: np.ndarray, position: np.ndarray) -> bool:
        palm = max(float(self._anchor_pos[2]), 1e-6)
        motion = math.hypot(*(position[:2] - self._anchor_pos[:2])) / palm
        change = np.sqrt(
            ((shape - self._anchor_shape).reshape(-1, 3)[:, :2] ** 2).sum(axis=1)
        ).mean()
        return max(motion, SHAPE_WEIGHT * float(change)) >= self.min_motion

    def _no_hand(self, t: float) -> Sequence[Frame]:
        if self._state == "probation":
            if self._no_hand_s <= TRACK_GAP_S:
                self._hold(t, None)
                return ()
            out = self._release_as_no_hand()  # the unproven hand went away again
            self._state = "none"
            out.append((t, None))
            return out
        if self._state != "none" and self._no_hand_s > TRACK_GAP_S:
            self._state = "none"
        return ((t, None),)

    def _hold(self, t: float, probs: np.ndarray | None) -> None:
        if self._n >= len(self._t):
            return
        self._t[self._n] = t
        self._has[self._n] = probs is not None
        if probs is not None:
            self._probs[self._n] = probs
        self._n += 1

    def _release_held(self) -> list[Frame]:
        out: list[Frame] = [
            (float(self._t[i]), self._probs[i] if self._has[i] else None) for i in range(self._n)
        ]
        self._n = 0
        return out

    def _release_as_no_hand(self) -> list[Frame]:
        out: list[Frame] = [(float(self._t[i]), None) for i in range(self._n)]
        self._n = 0
        return out
