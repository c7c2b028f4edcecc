"""The per-frame pipeline on real recorded landmarks with the shipped INT8 classifier (real LiteRT).

The replay of the bundled HELLO sample enters after the landmark stage, so these run without
MediaPipe. Faults (a landmark stage that raises, unusable frames, NaN landmarks) are injected
through a tracker that returns the recorded observation of each frame, as MediaPipe did.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from edge.config import REPO_ROOT, Config, load_config
from edge.landmarks import check_frame
from edge.observation import HandObservation
from edge.pipeline import Pipeline, StageTimings, load_classifier
from edge.sources import Frame, LandmarkReplaySource

DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def classifier(config: Config):
    return load_classifier(config)


@pytest.fixture(scope="module")
def observations() -> list[HandObservation]:
    source = LandmarkReplaySource(DEMO_CSV, realtime=False)
    source.open()
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame.observation)
    return frames


def run(pipeline: Pipeline, observations: list[HandObservation]) -> list:
    events = []
    for obs in observations:
        events += pipeline.process(obs)
    return events + pipeline.finish()


def test_recorded_landmarks_spell_hello_with_the_double_l(config, classifier, observations):
    pipeline = Pipeline(config, classifier)
    events = run(pipeline, observations)
    assert [e.text for e in events if e.kind == "letter"] == list("HELLO")
    assert [e.text for e in events if e.kind == "word"] == ["HELLO"]
    assert pipeline.decoder.current_word == "" and pipeline.decoder.last_word == "HELLO"
    hands = sum(o.has_hand for o in observations)
    assert pipeline.counters.frames == len(observations)
    assert pipeline.counters.hands == pipeline.counters.classified == hands


def test_timings_are_per_stage_and_reuse_one_object(config, classifier, observations):
    pipeline = Pipeline(config, classifier)
    seen = set()
    for obs in observations[:40]:
        events, timings = pipeline.process(obs, timing=True)
        assert isinstance(timings, StageTimings) and isinstance(events, list)
        seen.add(id(timings))
        parts = timings.ring_ns + timings.window_ns + timings.classify_ns + timings.decode_ns
        assert 0 < parts <= timings.total_ns
        assert timings.landmarks_ns == 0  # a replayed observation skips the landmark stage
        if obs.has_hand:
            assert timings.classify_ns > 0 and timings.window_ns > 0
        else:
            assert timings.classify_ns == 0 and timings.window_ns == 0
    assert len(seen) == 1
    assert set(pipeline.timings.as_dict()) == {
        "landmarks", "ring", "window", "classify", "decode", "total"
    }  # fmt: skip


def test_every_nth_frame_classified(config, classifier, observations):
    cfg = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, every_n_frames=3)
    )
    pipeline = Pipeline(cfg, classifier)
    run(pipeline, observations)
    hands = pipeline.counters.hands
    # every third hand frame, plus the first frame of each run of hand frames
    assert hands / 3 <= pipeline.counters.classified <= hands / 3 + 4


class ReplayTracker:
    """Stands in for MediaPipe: checks the frame like HandTracker does, then answers with the
    recorded observation of that frame; raises or returns NaN landmarks where told to."""

    def __init__(self, observations, raise_at=(), nan_at=()) -> None:
        self.observations = observations
        self.raise_at = set(raise_at)
        self.nan_at = set(nan_at)

    def detect(self, image, t):
        check_frame(image)
        index = int(round(t * 15))
        if index in self.raise_at:
            raise RuntimeError("calculator graph failed")
        obs = self.observations[index]
        if index in self.nan_at and obs.has_hand:
            bad = obs.landmarks.copy()
            bad[8, 0] = np.nan
            return dataclasses.replace(obs, landmarks=bad)
        return obs


def test_faults_become_no_hand_and_the_word_survives(config, classifier, observations, caplog):
    image = np.zeros((64, 48, 3), np.uint8)
    bad_images = {2: image[:5], 3: image.astype(np.float32), 4: None}
    hold_e = 50  # inside the E hold
    hold_o = 140  # inside the O hold
    tracker = ReplayTracker(observations, raise_at={1, hold_e}, nan_at={hold_o, hold_o + 3})
    pipeline = Pipeline(config, classifier, tracker=tracker)
    events = []
    with caplog.at_level(logging.WARNING):
        for index, obs in enumerate(observations):
            frame = Frame(t=obs.t, index=index, image=bad_images.get(index, image))
            events += pipeline.process_frame(frame)
        events += pipeline.finish()
    counters = pipeline.counters
    assert counters.bad_frames == 3
    assert counters.landmark_errors == 2
    assert pipeline.ring.invalid_frames == 2  # NaN landmarks: counted by the ring, no hand
    assert [e.text for e in events if e.kind == "word"] == ["HELLO"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "landmark stage failed on frame 1" in messages
    assert "unusable frame 2" in messages
    # logged once a minute per kind, not once per frame
    assert sum("landmark stage failed" in r.getMessage() for r in caplog.records) == 1


def test_clear_discards_the_word_in_progress(config, classifier, observations):
    pipeline = Pipeline(config, classifier)
    events = []
    for obs in observations:
        events += pipeline.process(obs)
        if pipeline.decoder.current_word == "HE":
            events += pipeline.clear()
    events += pipeline.finish()
    assert [e.text for e in events if e.kind == "cleared"] == ["HE"]
    assert [e.text for e in events if e.kind == "word"] == ["LLO"]


def still_hand(landmarks: np.ndarray, seconds: float, fps: float = 15.0) -> list[HandObservation]:
    """No hand for 0.5 s, then one real hand that appears from nowhere and stays put (tracker
    jitter only), then no hand again: what MediaPipe reports when it finds a 'hand' on a face."""
    rng = np.random.default_rng(0)
    frames = [HandObservation(i / fps, None) for i in range(int(0.5 * fps))]
    start = len(frames)
    for i in range(int(seconds * fps)):
        jitter = rng.normal(0, 0.0005, landmarks.shape).astype(np.float32)
        frames.append(HandObservation((start + i) / fps, landmarks + jitter, "Left", 0.98, 0.75))
    end = len(frames)
    frames += [HandObservation((end + i) / fps, None) for i in range(int(1.5 * fps))]
    return frames


def test_a_static_detection_that_is_not_a_signing_hand_spells_nothing(
    config, classifier, observations
):
    """The same frames spell a letter when the gate is off (so the test can fail), and nothing
    when it is on: a hand that never moved is not signing."""
    hands = [o.landmarks for o in observations if o.has_hand][::8]
    ungated = dataclasses.replace(
        config, decoder=dataclasses.replace(config.decoder, still_hand_s=0.0)
    )

    def letters(cfg: Config, landmarks: np.ndarray) -> list[str]:
        events = run(Pipeline(cfg, classifier), still_hand(landmarks, 4.0))
        return [e.text for e in events if e.kind == "letter"]

    readable = [lm for lm in hands if letters(ungated, lm)]
    assert len(readable) >= 3
    for landmarks in readable:
        pipeline = Pipeline(config, classifier)
        events = run(pipeline, still_hand(landmarks, 4.0))
        assert events == []
        assert pipeline.gate.still_tracks == 1
