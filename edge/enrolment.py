"""Enrolment: the box learns its own signer's letters in about a minute, live or from a recording.

Live (`sign2sound enroll`, or a long hold of the button on a running box): for each letter the
box says "sign A" through the same speech stage as the words, beeps, and watches the hand for
SETTLE_S + enrolment.capture_s. It keeps a frame only when the hand tracker and the model agree
the hand is holding a letter: a hand in every window step of the last STEADY_S, its shape moved
less than SHAPE_TOL and its wrist less than PATH_TOL palm sizes in that time, and the model's
`_` (moving between letters) below MOVE_PROB. The model is NOT asked to agree with the letter:
the point is to learn the letters it reads wrong for this signer. A letter with fewer than
enrolment.min_frames such frames, or whose frames spread more than SPREAD_TOL (the hand drifted
or changed letter), is asked again, up to enrolment.attempts times, then skipped and named (it
keeps the model's own reading). The 24 held letters are enrolled; J and Z are motions, which the
model's path channels read, so they are not.

From a recording (`sign2sound enroll --from my_alphabet.csv`, the data CSV format): single-frame
rows become held windows (as `sign2sound eval` makes them), clip rows are cut by the ring at every
frame; the same steadiness and confidence test picks the frames.

Only the fitted numbers leave this module (edge.signer_profile); the frames' features live in
memory for the length of the enrolment and are then dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge.adaptation import LetterModel, fit_letters, hand_frame_features, merge_letters
from edge.config import Config
from edge.dataset import BACKGROUND, LETTERS, MOTION_LETTERS, LandmarkTable
from edge.errors import UsageError
from edge.features import FEATURE_DIM, PATH_X, PATH_Y, PRESENT
from edge.observation import HandObservation
from edge.ringbuffer import FeatureRing
from edge.signer_profile import (
    ProfileError,
    ProfileState,
    SignerProfile,
    load_profile,
    model_identity,
    new_profile,
    save_profile,
)
from edge.sources import Frame

if TYPE_CHECKING:
    from edge.synth import SynthConfig

log = logging.getLogger(__name__)

ENROL_LETTERS: tuple[str, ...] = tuple(c for c in LETTERS if c not in MOTION_LETTERS)
SETTLE_S = 0.5  # after the beep: the signer forms the letter (frames not used)
STEADY_S = 0.2  # a kept frame: the hand held still at least this long
SHAPE_TOL = 0.08  # RMS landmark movement (palm units) over STEADY_S; real holds: 0.01-0.06
PATH_TOL = 0.25  # wrist movement (palm units) over STEADY_S; real holds: below 0.1
MOVE_PROB = 0.5  # the model's `_` must be below this
SPREAD_TOL = 0.2  # RMS deviation (palm units) of a letter's kept frames from their mean
MIN_RECORDING_FRAMES = 2  # from a recording (no re-asking): enough frames for a mean
PROMPT_TIMEOUT_S = 10.0  # longest wait for a prompt to be spoken
_EPS = 1e-6  # frame times are rounded to the millisecond (replays): a tolerance on durations


class EnrolmentError(UsageError):
    """Enrolment cannot start or produced nothing (names why)."""


def parse_letters(text: str | None) -> tuple[str, ...]:
    """`--letters a,b,C` or `ABC` -> ('A', 'B', 'C'); None or empty: all enrolled letters."""
    if not text:
        return ENROL_LETTERS
    letters = [c for c in text.upper() if c.strip() and c != ","]
    bad = sorted({c for c in letters if c not in LETTERS})
    if bad:
        raise EnrolmentError(f"--letters: {' '.join(bad)} not a letter A-Z")
    motion = sorted({c for c in letters if c in MOTION_LETTERS})
    if motion:
        raise EnrolmentError(
            f"--letters: {' and '.join(motion)} are motions; the model reads them from the "
            "hand's path, enrolment learns held letters only"
        )
    return tuple(dict.fromkeys(letters))


def steady(window: np.ndarray, probs: np.ndarray, blank: int | None, steps: int) -> bool:
    """Whether the window ends on a hand holding a letter (see the module docstring)."""
    recent = window[-steps:]
    if recent[:, PRESENT].min() < 0.5:
        return False
    if blank is not None and probs[blank] >= MOVE_PROB:
        return False
    shape = recent[:, :FEATURE_DIM]
    moved = np.sqrt(((shape - shape[-1]) ** 2).mean(axis=1)).max()
    if moved > SHAPE_TOL:
        return False
    return float(np.abs(recent[:, PATH_X : PATH_Y + 1]).max()) <= PATH_TOL


def steady_steps(window_s: float, steps: int) -> int:
    """How many window steps cover STEADY_S (at least 2)."""
    return max(2, int(round(STEADY_S / (window_s / steps))) + 1)


def spread(features: np.ndarray) -> float:
    """RMS deviation of a letter's frames from their mean, shape part (palm units)."""
    shape = features[:, :FEATURE_DIM]
    return float(np.sqrt(((shape - shape.mean(0)) ** 2).mean()))


def fit_profile(
    samples: dict[str, list[np.ndarray]],
    *,
    classifier,
    base: SignerProfile | None = None,
) -> SignerProfile:
    """The profile for these letters' features (merged into `base` for `--letters`)."""
    fitted = fit_letters({c: np.stack(v) for c, v in samples.items()})
    letters: LetterModel = fitted if base is None else merge_letters(base.letters, fitted)
    return new_profile(letters, model_path=classifier.model_path, labels=classifier.labels)


def base_profile(config: Config, classifier, letters: Sequence[str]) -> SignerProfile | None:
    """The profile `--letters` adds to: the existing one when only some letters are redone."""
    path = config.profile_path()
    if path is None or set(letters) >= set(ENROL_LETTERS) or not path.exists():
        return None
    try:
        return load_profile(
            path, model_sha256=model_identity(classifier.model_path), labels=classifier.labels
        )
    except ProfileError as exc:
        raise EnrolmentError(f"{exc} (or enrol every letter, without --letters)") from exc


def profile_target(config: Config) -> Path:
    path = config.profile_path()
    if path is None:
        raise EnrolmentError(
            "classifier.profile is empty (adaptation off): set it to a file name to enrol"
        )
    return path


# -- from a recording -------------------------------------------------------------------------
@dataclass
class TableSamples:
    """The features kept per letter from a recording, and how many frames each letter had."""

    features: dict[str, list[np.ndarray]] = field(default_factory=dict)
    offered: dict[str, int] = field(default_factory=dict)

    def usable(self, min_frames: int = MIN_RECORDING_FRAMES) -> dict[str, list[np.ndarray]]:
        """The letters with enough steady frames to enrol (the others keep the model's reading)."""
        return {c: v for c, v in self.features.items() if len(v) >= min_frames}


def window_geometry(config: Config, classifier) -> SynthConfig:
    """The SynthConfig that cuts windows as the daemon's ring does for this config and model."""
    from edge.synth import SynthConfig

    cls = config.classifier
    return SynthConfig(steps=classifier.steps, duration_s=cls.window_s, max_gap_s=cls.max_gap_s)


def samples_from_table(
    table: LandmarkTable,
    classifier,
    config: Config,
    letters: Sequence[str] = ENROL_LETTERS,
    *,
    seed: int = 0,
) -> TableSamples:
    """Steady, confident frames of each wanted letter of a recording (single frames or clips)."""
    from edge.synth import ring_windows
    from edge.training.windows import clip_times, clips_of, held_windows

    out = TableSamples()
    labels = list(classifier.labels)
    blank = labels.index(BACKGROUND) if BACKGROUND in labels else None
    window_s = config.classifier.window_s
    steps = steady_steps(window_s, classifier.steps)
    synth = window_geometry(config, classifier)
    wanted = np.isin(table.labels, list(letters))
    single = wanted & (table.sequence == "")
    if single.any():
        held = held_windows(table.select(single), seed=seed, labels=labels, synth=synth)
        names = np.asarray(labels)[held.y]
        _keep(out, held.x, names, classifier, blank, steps)
    clips = table.select(wanted & (table.sequence != ""))
    for rows in clips_of(clips) if len(clips) else []:
        t = clip_times(clips, rows)
        windows = ring_windows(
            t, clips.coords[rows].reshape(-1, 21, 3), np.ones(len(rows), bool),
            np.arange(len(rows)), synth, aspect=clips.aspect()[rows],
            handedness=clips.handedness[rows], mirror_mode=config.landmarks.mirror_left_hand,
        )  # fmt: skip
        _keep(out, windows, clips.labels[rows], classifier, blank, steps)
    return out


def _keep(out: TableSamples, windows, names, classifier, blank, steps) -> None:
    for window, name in zip(windows, names, strict=True):
        name = str(name)
        out.offered[name] = out.offered.get(name, 0) + 1
        probs = classifier.predict(np.asarray(window, np.float32))
        if steady(window, probs, blank, steps):
            out.features.setdefault(name, []).append(hand_frame_features(window[-1, :FEATURE_DIM]))


# -- live ---------------------------------------------------------------------------------------
class Prompter(Protocol):
    """What enrolment needs of edge.speech.Speaker."""

    def say(self, text: str) -> bool: ...

    def beep(self) -> bool: ...

    def wait_idle(self, timeout: float | None = None) -> bool: ...


@dataclass
class LetterOutcome:
    letter: str
    attempts: int = 0
    frames: int = 0
    accepted: bool = False
    reason: str = ""


class EnrolmentSession:
    """One live enrolment, fed frame by frame from the daemon's processing loop.

    `start()` speaks the first prompt; `feed(frame)` per frame (it blocks while a prompt is
    spoken: frames of the camera meanwhile are dropped by the capture slot, a replay waits);
    `done` when every letter was accepted or skipped, and then `state` is the new ProfileState
    (None when nothing was accepted) and the profile has been written to `path`.
    """

    def __init__(
        self,
        config: Config,
        classifier,
        prompter: Prompter,
        observe: Callable[[Frame], HandObservation],
        *,
        letters: Sequence[str] = ENROL_LETTERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.path = profile_target(config)
        self.classifier = classifier
        self.prompter = prompter
        self.observe = observe
        self.letters = tuple(letters)
        self.base = base_profile(config, classifier, self.letters)
        self.outcomes = [LetterOutcome(c) for c in self.letters]
        self.done = False
        self.state: ProfileState | None = None
        self.started = clock()
        self.finished: float | None = None
        self._clock = clock
        cls = config.classifier
        self._window_s, self._max_gap_s = cls.window_s, cls.max_gap_s
        self._mirror = config.landmarks.mirror_left_hand
        # the daemon's ring (Pipeline's), so its windows are the ones the model sees when signing
        self._ring = FeatureRing.for_camera(cls.window_s, config.camera.fps)
        labels = list(classifier.labels)
        self._blank = labels.index(BACKGROUND) if BACKGROUND in labels else None
        self._steps = steady_steps(cls.window_s, classifier.steps)
        self._i = 0
        self._t0: float | None = None
        self._kept: list[np.ndarray] = []
        self._accepted: dict[str, list[np.ndarray]] = {}
        self._ending = False

    def status(self) -> str:
        """For STATUS=: which letter, how far."""
        if self.done:
            return "enrolment finished"
        out = self.outcomes[self._i]
        return (
            f"enrolling: sign {out.letter} ({self._i + 1} of {len(self.letters)}, "
            f"attempt {out.attempts})"
        )

    def start(self) -> None:
        log.info(
            "enrolment: %d letters (%s), profile %s",
            len(self.letters),
            "".join(self.letters),
            self.path,
        )
        self.prompter.say("enrolment. after each beep, hold the letter still")
        self._prompt()

    def feed(self, frame: Frame) -> None:
        if self.done:
            return
        obs = self.observe(frame)
        if self._t0 is None:
            self._t0 = obs.t
            self._ring.clear()
        elapsed = obs.t - self._t0
        if elapsed >= SETTLE_S + self.config.enrolment.capture_s - _EPS:
            self._judge()
            return
        self._ring.push(obs)
        if elapsed < SETTLE_S - _EPS or obs.landmarks is None:
            return
        window = self._ring.window(
            obs.t, self._window_s, self.classifier.steps, self._max_gap_s, self._mirror
        )
        probs = self.classifier.predict(window)
        if steady(window, probs, self._blank, self._steps):
            self._kept.append(hand_frame_features(window[-1, :FEATURE_DIM]))

    def end(self, *, save: bool) -> None:
        """No more frames: the source ended (`save`: the letter being watched is judged on what
        it has and the profile is written from the letters accepted so far) or the box is
        stopping (nothing is written, the old profile stays)."""
        if self.done:
            return
        self._ending = True
        if save and self._t0 is not None:
            self._judge()
            return
        if save:
            self._next(advance=False)
            return
        self.done = True
        self.finished = self._clock()
        self._accepted.clear()
        log.warning("enrolment stopped before the end: the profile is unchanged")

    # -- inside ------------------------------------------------------------------------------
    def _prompt(self) -> None:
        out = self.outcomes[self._i]
        out.attempts += 1
        text = f"sign {out.letter}" if out.attempts == 1 else f"again, sign {out.letter}"
        log.info("enrolment: %s (%d of %d)", text, self._i + 1, len(self.letters))
        if not self.prompter.say(text):
            log.warning("enrolment: the prompt could not be spoken (speech off?): %s", text)
        self.prompter.beep()
        # the capture starts with the first frame after the beep was heard
        self.prompter.wait_idle(PROMPT_TIMEOUT_S)
        self._t0 = None
        self._kept = []

    def _judge(self) -> None:
        out = self.outcomes[self._i]
        cfg = self.config.enrolment
        kept = np.stack(self._kept) if self._kept else np.zeros((0, 1))
        out.frames = len(kept)
        if len(kept) < cfg.min_frames:
            out.reason = f"{len(kept)} steady frames, {cfg.min_frames} needed"
        elif (moved := spread(kept)) > SPREAD_TOL:
            out.reason = f"the hand moved (spread {moved:.2f} palm sizes)"
        else:
            out.accepted, out.reason = True, ""
            self._accepted[out.letter] = list(kept)
            log.info("enrolment: %s accepted (%d frames)", out.letter, len(kept))
            self._next()
            return
        if out.attempts < cfg.attempts and not self._ending:
            log.info("enrolment: %s asked again: %s", out.letter, out.reason)
            self._prompt()
            return
        log.warning(
            "enrolment: %s skipped after %d attempts (%s); it keeps the model's reading",
            out.letter,
            out.attempts,
            out.reason,
        )
        if not self._ending:
            self.prompter.say(f"skipping {out.letter}")
        self._next()

    def _next(self, advance: bool = True) -> None:
        self._i += int(advance)
        if self._i < len(self.letters) and not self._ending:
            self._prompt()
            return
        for out in self.outcomes[self._i :]:
            if not out.accepted and not out.reason:
                out.reason = "not asked: the stream ended"
        self._finish()

    def _finish(self) -> None:
        self.done = True
        self.finished = self._clock()
        skipped = [o.letter for o in self.outcomes if not o.accepted]
        if not self._accepted:
            log.error("enrolment: no letter was accepted; the profile is unchanged")
            self.prompter.say("enrolment failed, no letter was steady")
            return
        profile = fit_profile(self._accepted, classifier=self.classifier, base=self.base)
        save_profile(profile, self.path)
        self._accepted.clear()  # the frames' features are not kept
        self.state = ProfileState(
            profile.adapter(), self.path, f"profile {self.path.name} ({profile.describe()})"
        )
        log.info(
            "enrolment done in %.0f s: %s written (%d letters%s)",
            self.finished - self.started,
            self.path,
            len(profile.letter_names),
            f"; skipped {', '.join(skipped)}" if skipped else "",
        )
        said = f"enrolment done, {len(self.letters) - len(skipped)} letters"
        self.prompter.say(said + (f", skipped {' '.join(skipped)}" if skipped else ""))
