"""Per-frame processing: landmarks → ring buffer → window → classifier → decoder → events.

One call per frame, on the processing thread, with every stage's time measured the cheap way
(`time.perf_counter_ns`, written into one preallocated StageTimings) so `edge-bench pipeline` can
show where the time goes on a user's own Pi, like openWakeWord's `predict(..., timing=True)`.

The stages never stop the loop on bad input: an unusable frame (truncated, wrong type) or a
landmark stage that raises is counted, logged at most once a minute, and becomes "no hand" for
this frame, so a word in progress still ends on time and nothing already spelled is lost. NaN or
infinite landmarks are turned into "no hand" by the ring buffer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge.config import Config, DecoderConfig
from edge.decoder import Decoder, DecoderEvent
from edge.features import WINDOW_CHANNELS
from edge.hand_gate import SigningHandGate
from edge.landmarks import FrameError
from edge.lexicon import WordCorrector
from edge.modelfiles import ModelError
from edge.observation import HandObservation
from edge.ringbuffer import FeatureRing
from edge.signer_profile import ProfileState, profile_state
from edge.sources import Frame

log = logging.getLogger(__name__)

_LOG_EVERY_S = 60.0


class Classifier(Protocol):
    """What the pipeline needs of edge.classifier.LetterClassifier."""

    labels: list[str]
    steps: int
    channels: int

    def predict(self, window: np.ndarray) -> np.ndarray: ...


class Tracker(Protocol):
    """What the pipeline needs of edge.landmarks.HandTracker."""

    def detect(self, image_rgb: np.ndarray, t: float) -> HandObservation: ...


@dataclass(slots=True)
class StageTimings:
    """Nanoseconds spent in each stage for the last frame (0 = the stage did not run).

    One instance per pipeline, overwritten every frame: copy the numbers if you keep them.
    """

    landmarks_ns: int = 0
    ring_ns: int = 0
    window_ns: int = 0
    classify_ns: int = 0
    decode_ns: int = 0
    total_ns: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "landmarks": self.landmarks_ns,
            "ring": self.ring_ns,
            "window": self.window_ns,
            "classify": self.classify_ns,
            "decode": self.decode_ns,
            "total": self.total_ns,
        }


@dataclass
class PipelineCounters:
    """What the daemon reports: frames seen, frames with a hand, classifier runs, faults."""

    frames: int = 0
    hands: int = 0
    classified: int = 0
    bad_frames: int = 0
    landmark_errors: int = 0
    gaps: int = 0  # stretches with no frame longer than classifier.max_gap_s (outages, stalls)
    last_fault: str = ""
    _last_log_t: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Wires the stages for one stream. Not thread-safe: call it from the processing loop only."""

    def __init__(
        self,
        config: Config,
        classifier: Classifier,
        *,
        tracker: Tracker | None = None,
        decoder: Decoder | None = None,
        ring: FeatureRing | None = None,
        profile: ProfileState | None = None,
    ) -> None:
        self.config = config
        self.classifier = classifier
        self.tracker = tracker
        self.labels: Sequence[str] = classifier.labels
        self.decoder = decoder or Decoder(config.decoder, classifier.labels)
        self.ring = ring or FeatureRing.for_camera(config.classifier.window_s, config.camera.fps)
        self.gate = self._signing_hand_gate(config.decoder)
        self.timings = StageTimings()
        self.counters = PipelineCounters()
        self.last_probs: np.ndarray | None = None
        self.last_t: float | None = None
        self._window_s = config.classifier.window_s
        self._max_gap_s = config.classifier.max_gap_s
        self._every_n = config.classifier.every_n_frames
        self._mirror_mode = config.landmarks.mirror_left_hand
        self._steps = classifier.steps
        if classifier.channels != WINDOW_CHANNELS:
            # refuse at start, before READY, instead of failing on the first frame with a hand
            where = getattr(classifier, "model_path", "the classifier")
            raise ModelError(
                f"{where}: the model takes {classifier.channels} values per time step, the "
                f"features give {WINDOW_CHANNELS}; it was built for other features"
            )
        self._since_classify = self._every_n  # classify on the first hand frame
        self._refill_until = float("-inf")
        # word correction (lexicon.enabled); a bad word list fails here, at start
        self.corrector = WordCorrector.from_config(config, classifier.labels)
        # signer adaptation (classifier.profile, edge.adaptation): None = the model alone
        self.profile = profile or profile_state(config, classifier)

    # -- per frame -----------------------------------------------------------------------------
    def process_frame(
        self, frame: Frame, timing: bool = False
    ) -> list[DecoderEvent] | tuple[list[DecoderEvent], StageTimings]:
        """A captured frame: run the landmark stage on its image (or take the replayed
        observation), then `process` it."""
        start = time.perf_counter_ns()
        obs = self.observe(frame)
        landmarks_ns = time.perf_counter_ns() - start
        events = self._process(obs)
        self.timings.landmarks_ns = landmarks_ns
        self.timings.total_ns += landmarks_ns
        return (events, self.timings) if timing else events

    def process(
        self, obs: HandObservation, timing: bool = False
    ) -> list[DecoderEvent] | tuple[list[DecoderEvent], StageTimings]:
        """One observation through ring, window, classifier and decoder; with `timing`, also the
        per-stage StageTimings (the same object every call)."""
        events = self._process(obs)
        self.timings.landmarks_ns = 0
        return (events, self.timings) if timing else events

    def _process(self, obs: HandObservation) -> list[DecoderEvent]:
        clock = time.perf_counter_ns
        timings = self.timings
        t0 = clock()
        if self.last_t is not None and obs.t < self.last_t:
            self._refill_until = float("-inf")  # the stream's clock restarted (the ring resets)
            self.gate.reset()
        elif self.last_t is not None and obs.t - self.last_t > self._max_gap_s:
            # No frame at all for a while (camera outage, a stall): the window now holds steps
            # marked "no hand" that nobody saw. Classifying it would read as the letter being
            # released, and a letter held across the gap would count twice (HEELLO). So the
            # decoder waits, keeping its state, until the window holds only frames seen again.
            self._refill_until = obs.t + self._window_s
            self.counters.gaps += 1
        has_hand = self.ring.push(obs)
        t1 = clock()
        counters = self.counters
        counters.frames += 1
        self.last_t = obs.t
        if obs.t < self._refill_until:
            self._since_classify = self._every_n  # classify at once when the window is full
            timings.ring_ns = t1 - t0
            timings.window_ns = timings.classify_ns = timings.decode_ns = 0
            timings.total_ns = t1 - t0
            return []
        probs: np.ndarray | None = None
        t2 = t3 = t1
        if has_hand:
            counters.hands += 1
            self._since_classify += 1
            if self._since_classify >= self._every_n or self.last_probs is None:
                self._since_classify = 0
                window = self.ring.window(
                    obs.t, self._window_s, self._steps, self._max_gap_s, self._mirror_mode
                )
                t2 = clock()
                self.last_probs = self.classifier.predict(window)
                if self.profile.adapter is not None:  # the enrolled signer's own letters
                    self.last_probs = self.profile.adapter.apply(window, self.last_probs)
                counters.classified += 1
                t3 = clock()
            probs = self.last_probs
        else:
            self._since_classify = self._every_n  # classify at once when the hand is back
        events = self._correct_words(self._decode(obs.t, probs))
        t4 = clock()
        timings.ring_ns = t1 - t0
        timings.window_ns = t2 - t1
        timings.classify_ns = t3 - t2
        timings.decode_ns = t4 - t3
        timings.total_ns = t4 - t0
        return events

    def _decode(self, t: float, probs: np.ndarray | None) -> list[DecoderEvent]:
        """The decoder gets the frames the signing-hand gate lets through (a new hand's frames
        wait until it has moved, a hand that never moves reads as no hand)."""
        if probs is None:
            admitted = self.gate.admit(t, None)
        else:
            shape, position, _ = self.ring.latest()
            admitted = self.gate.admit(t, probs, shape, position)
        if len(admitted) == 1:
            return self.decoder.update(*admitted[0])
        events: list[DecoderEvent] = []
        for frame_t, frame_probs in admitted:
            events.extend(self.decoder.update(frame_t, frame_probs))
        return events

    def observe(self, frame: Frame) -> HandObservation:
        """The landmark stage alone (enrolment uses it too): a replayed frame's observation, or
        the tracker's on the image."""
        return frame.observation if frame.observation is not None else self._landmarks(frame)

    def _landmarks(self, frame: Frame) -> HandObservation:
        """The landmark stage, with its faults turned into 'no hand' (counted, logged)."""
        if self.tracker is None:
            raise RuntimeError("a camera frame arrived but the pipeline has no hand tracker")
        try:
            return self.tracker.detect(frame.image, frame.t)
        except FrameError as exc:
            self.counters.bad_frames += 1
            self._fault(frame.t, "bad_frame", f"unusable frame {frame.index} ({exc})")
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the box
            self.counters.landmark_errors += 1
            self._fault(
                frame.t, "landmarks", f"landmark stage failed on frame {frame.index}: {exc!r}"
            )
        return HandObservation(t=frame.t, landmarks=None)

    def _fault(self, t: float, kind: str, message: str) -> None:
        counters = self.counters
        counters.last_fault = message
        last = counters._last_log_t.get(kind)
        if last is None or t - last >= _LOG_EVERY_S or t < last:
            counters._last_log_t[kind] = t
            total = counters.bad_frames if kind == "bad_frame" else counters.landmark_errors
            log.warning(
                "%s; treated as 'no hand' (%d so far, logged once a minute)", message, total
            )

    # -- commands ------------------------------------------------------------------------------
    def reconfigure_decoder(self, decoder: DecoderConfig) -> None:
        """New decoder settings (a reload), at once: the decoder keeps the word being spelled;
        the signing-hand gate starts over with its new settings when they changed."""
        old = self.config.decoder
        self.config = dataclasses.replace(self.config, decoder=decoder)
        self.decoder.config = decoder
        if (old.still_hand_s, old.still_hand_palms) != (
            decoder.still_hand_s,
            decoder.still_hand_palms,
        ):
            self.gate = self._signing_hand_gate(decoder)

    def _signing_hand_gate(self, decoder: DecoderConfig) -> SigningHandGate:
        return SigningHandGate(
            decoder.still_hand_s, decoder.still_hand_palms, len(self.classifier.labels)
        )

    def clear(self, t: float | None = None) -> list[DecoderEvent]:
        """Discard the word being spelled (button press)."""
        return self.decoder.clear(self.last_t if t is None else t)

    def finish(self) -> list[DecoderEvent]:
        """Complete the word in progress as if the hand had gone right after the last frame
        (end of a video or replay, or a stop): a word already spelled is never dropped."""
        if self.last_t is None:
            return []
        t = self.last_t + 1e-3
        events: list[DecoderEvent] = []
        for frame_t, _ in self.gate.end():  # a hand still on probation never spelled
            events += self.decoder.update(frame_t, None)
        if self.decoder.current_word:
            events += self.decoder.update(t, None)
            events += self.decoder.update(t + self.config.decoder.word_gap_s, None)
        return self._correct_words(events)

    # -- word correction -----------------------------------------------------------------------
    def _correct_words(self, events: list[DecoderEvent]) -> list[DecoderEvent]:
        """Each completed word through the corrector: a changed word carries `raw` (the letters
        read); a kept word, and every other event, is passed on unchanged."""
        if self.corrector is None or not events:
            return events
        return [self.corrector.apply(event) for event in events]


def load_classifier(config: Config) -> Classifier:
    """The LetterClassifier of the config (its sha256 checked against the checksums file); an
    .onnx model runs in ONNX Runtime (edge.classifier.runtime_for), any other in LiteRT."""
    from edge.classifier import LetterClassifier

    cls_cfg = config.classifier
    return LetterClassifier(
        config.resolve_path(cls_cfg.model),
        config.resolve_path(cls_cfg.labels),
        config.checksums_path(),
        threads=cls_cfg.threads,
    )
