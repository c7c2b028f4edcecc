"""Fault injection around REAL sources, shared by the source and daemon tests.

FlakyCamera wraps a real FrameSource (a video file or a landmark replay) and behaves like a live
camera that disappears and comes back: `read()` fails after a given frame, the next `open()`s fail
a given number of times, then frames flow again with times that keep increasing, as a camera's
monotonic clock would. BadFrames wraps a real video source and swaps chosen frames for black,
truncated or wrong-sized images.
"""

from __future__ import annotations

import numpy as np

from edge.sources import Frame, FrameSource, SourceError


class FlakyCamera:
    live = True

    def __init__(
        self, inner: FrameSource, *, fail_after: int, failed_opens: int, fail_times: int = 1
    ) -> None:
        self.inner = inner
        self.name = f"flaky camera ({inner.name})"
        self.paced = inner.paced  # a replay read as fast as possible still loses no frame
        self.gives_observations = getattr(inner, "gives_observations", False)
        self.fail_after = fail_after
        self.failed_opens = failed_opens
        self.fail_times = fail_times
        self.opens = 0
        self.open_failures = 0
        self.delivered = 0
        self._outages_left = fail_times
        self._failing_opens = 0
        self._t_offset = 0.0
        self._fail_at = fail_after
        self._index = 0

    def open(self) -> None:
        self.opens += 1
        if self._failing_opens > 0:
            self._failing_opens -= 1
            self.open_failures += 1
            raise SourceError(f"{self.name}: no such device (unplugged)")
        if self.opens == 1:
            self.inner.open()

    def read(self) -> Frame | None:
        if self._outages_left > 0 and self.delivered == self._fail_at:
            self._outages_left -= 1
            self._fail_at += self.fail_after
            self._failing_opens = self.failed_opens
            self._t_offset += 0.5  # the outage takes time on the camera's clock
            raise SourceError(f"{self.name}: the camera stopped delivering frames")
        frame = self.inner.read()
        if frame is None:
            return None
        self.delivered += 1
        t = frame.t + self._t_offset
        obs = frame.observation
        if obs is not None:
            obs = type(obs)(t, obs.landmarks, obs.handedness, obs.score, obs.aspect)
        out = Frame(t=t, index=self._index, image=frame.image, observation=obs)
        self._index += 1
        return out

    def close(self) -> None:
        """The wrapped stream stays open across the outage, so frames resume where they were."""


class BadFrames:
    """A real video source with chosen frames replaced: 'black', 'truncated', 'wrong_size',
    'wrong_type' (float image) or 'none'."""

    def __init__(self, inner: FrameSource, faults: dict[int, str]) -> None:
        self.inner = inner
        self.name = f"bad frames ({inner.name})"
        self.live = inner.live
        self.paced = inner.paced
        self.faults = faults

    def open(self) -> None:
        self.inner.open()

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is None:
            return None
        kind = self.faults.get(frame.index)
        image = frame.image
        if kind == "black":
            image = np.zeros_like(image)
        elif kind == "truncated":
            image = image[:7]  # the first rows only, as a short USB read would give
        elif kind == "wrong_size":
            image = np.ascontiguousarray(image[::3, ::2])  # a different, smaller resolution
        elif kind == "wrong_type":
            image = image.astype(np.float32)
        elif kind == "none":
            image = None
        return Frame(t=frame.t, index=frame.index, image=image, observation=frame.observation)

    def close(self) -> None:
        self.inner.close()
