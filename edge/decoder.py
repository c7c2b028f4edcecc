"""Letters and words from a stream of per-frame letter probabilities.

A small state machine with named, TIME-based parameters (like openWakeWord's threshold and
patience), so it behaves the same at 8 fps on a Pi 4 and at 30 fps on a desktop. It is a greedy
streaming decoder in the manner of CTC: the classifier's `_` class (the hand moving between
letters, or not making a letter) is the blank between symbols, a run of one letter is one symbol,
and the same letter twice needs a blank (or a gap) between its runs.

Each frame stands for the time since the previous frame (at most 0.2 s: a stall is not a hold),
so a letter seen on one frame at 8 fps has lasted 0.125 s, as four frames do at 30 fps:

- threshold: the top label's probability must reach it, else the frame shows "no letter";
- hold_s: the same top letter must stay above threshold this long to be accepted (rejects the
  flicker of hand transitions);
- release_s: once accepted, that letter must be gone (another letter, or `_`, each above threshold)
  this long before it can be accepted again: a repeated letter (the LL of HELLO) needs a visible
  release, while a different letter may follow directly after its own hold, and a long hold
  stays one letter (a frame the model is unsure of, below threshold, is no release);
- dropout_s: no hand for less than this is the tracker losing the hand for a frame or a few in a
  fast move: it does not count as a release (longer stretches do);
- word_gap_s: no hand for this long completes a non-empty word;
- max_word_length: a word this long is completed at once.

Labels that are not one letter A-Z (a background class such as "_") count as "no letter" but
not as "no hand": only `probs=None` (the landmark stage found no hand) ends a word.
Times are the frame timestamps the caller passes, so tests drive time explicitly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.config import DecoderConfig

log = logging.getLogger(__name__)

# frame times are sums of float steps (i / 30.0): compare durations with a tiny tolerance so a
# 0.4 s hold is met by the frame 0.4 s later and not by the next one
_EPS = 1e-6
MAX_FRAME_S = 0.2  # the longest time one frame stands for

EventKind = Literal["letter", "word", "cleared"]


@dataclass(frozen=True, slots=True)
class DecoderEvent:
    """letter: `text` is the accepted letter; word: the completed word; cleared: the discarded
    partial word. `t` is the frame time that caused the event.

    `evidence` is what a later stage (word correction) needs to weigh other spellings: for a
    letter, the mean probabilities over the labels during the frames that got it accepted
    (n_labels,); for a word, one such row per letter (len(text), n_labels). `raw` is the word as
    the decoder read it, before any correction changed `text` (None: not corrected). Neither
    takes part in ==, so events compare by what was said and when.
    """

    kind: EventKind
    text: str
    t: float
    raw: str | None = field(default=None, compare=False)
    evidence: np.ndarray | None = field(default=None, compare=False, repr=False)


def letter_of(label: str) -> str | None:
    """The letter a label stands for, or None for any label that is not one letter A-Z."""
    text = label.strip().upper()
    if len(text) == 1 and "A" <= text <= "Z":
        return text
    return None


class Decoder:
    """Turns `update(t, probs)` calls, one per processed frame, into DecoderEvents."""

    def __init__(self, config: DecoderConfig, labels: Sequence[str]) -> None:
        if not labels:
            raise ValueError("the decoder needs at least one label")
        self.config = config
        self.labels = list(labels)
        self._letters = [letter_of(label) for label in self.labels]
        self._word: list[str] = []
        self._last_word = ""
        self._last_t = -math.inf
        self._candidate: str | None = None  # top letter above threshold, continuously ...
        self._candidate_s = 0.0  # ... for this long
        self._candidate_sum = np.zeros(len(self.labels), np.float64)  # its probabilities, summed
        self._candidate_frames = 0
        self._evidence: list[np.ndarray] = []  # one row per letter of the word
        self._blocked: str | None = None  # the accepted letter, until it has been released
        self._gone_s = 0.0  # how long the blocked letter has been gone (hand frames)
        self._no_hand_s = 0.0  # how long there has been no hand (frame durations: releases)
        self._no_hand_since: float | None = None  # the first frame without one (word gap)

    @property
    def current_word(self) -> str:
        """The word being spelled (letters accepted since the last word or clear)."""
        return "".join(self._word)

    @property
    def candidate(self) -> str | None:
        """The letter being held but not yet accepted (for status lines), else None."""
        return self._candidate if self._candidate != self._blocked else None

    @property
    def last_word(self) -> str:
        """The last completed word ('' before the first one), for "repeat last word"."""
        return self._last_word

    def update(self, t: float, probs: np.ndarray | None) -> list[DecoderEvent]:
        """Feed one frame: `probs` over the labels, or None when no hand was found."""
        if not math.isfinite(t):
            log.warning("decoder ignored a frame with an unusable time %r", t)
            return []
        if t < self._last_t:
            log.warning(
                "decoder time went backwards (%.3f s after %.3f s): restarting letter timing, "
                "keeping the word %r",
                t,
                self._last_t,
                self.current_word,
            )
            self._reset_timing()
        dt = min(t - self._last_t, MAX_FRAME_S) if math.isfinite(self._last_t) else 0.0
        self._last_t = t
        if probs is None:
            return self._no_hand(t, dt)
        letter, sure = self._top_letter(probs)
        self._no_hand_s = 0.0
        self._no_hand_since = None
        return self._letter_frame(t, dt, letter, sure, probs)

    def clear(self, t: float) -> list[DecoderEvent]:
        """Discard the word being spelled (the button's press). A letter still being held must
        be held for a full hold_s again before it counts."""
        self._candidate = None
        if not self._word:
            return []
        text = self.current_word
        self._word.clear()
        self._evidence.clear()
        return [DecoderEvent("cleared", text, t)]

    def _top_letter(self, probs: np.ndarray) -> tuple[str | None, bool]:
        """(the letter the frame shows or None, whether its top label passed the threshold):
        a confident `_` is no letter but sure; a frame below threshold is neither."""
        if probs.shape != (len(self.labels),):
            raise ValueError(
                f"decoder got {probs.shape} probabilities for {len(self.labels)} labels; "
                "the model and its labels file do not match"
            )
        top = int(np.argmax(probs))
        # NaN never passes `>=`, so a broken model output reads as "no letter"
        if not probs[top] >= self.config.threshold:
            return None, False
        return self._letters[top], True

    def _letter_frame(
        self, t: float, dt: float, letter: str | None, sure: bool, probs: np.ndarray
    ) -> list[DecoderEvent]:
        if sure:  # a frame the model is unsure of is no release (nor the letter coming back)
            self._track_release(dt, letter)
        if letter is None:
            self._candidate = None
            return []
        if letter != self._candidate:
            self._candidate = letter
            self._candidate_s = 0.0
            self._candidate_sum.fill(0.0)
            self._candidate_frames = 0
        self._candidate_s += dt
        self._candidate_sum += probs
        self._candidate_frames += 1
        if letter == self._blocked or self._candidate_s + _EPS < self.config.hold_s:
            return []
        return self._accept(t, letter)

    def _track_release(self, dt: float, letter: str | None) -> None:
        """A hand frame: the blocked letter is back (its release starts over) or still gone."""
        if self._blocked is None:
            return
        if letter == self._blocked:
            self._gone_s = 0.0
            return
        self._gone_s += dt
        if self._gone_s + _EPS >= self.config.release_s:
            self._blocked = None  # gone long enough: it may count again

    def _accept(self, t: float, letter: str) -> list[DecoderEvent]:
        evidence = (self._candidate_sum / max(self._candidate_frames, 1)).astype(np.float32)
        self._word.append(letter)
        self._evidence.append(evidence)
        self._blocked = letter
        self._gone_s = 0.0
        events = [DecoderEvent("letter", letter, t, evidence=evidence)]
        if len(self._word) >= self.config.max_word_length:
            events.append(self._complete(t))  # the letter stays blocked: no instant restart
        return events

    def _no_hand(self, t: float, dt: float) -> list[DecoderEvent]:
        self._candidate = None
        self._no_hand_s += dt
        if self._no_hand_since is None:
            self._no_hand_since = t
        if self._blocked is not None and self._no_hand_s + _EPS >= max(
            self.config.release_s, self.config.dropout_s
        ):
            self._blocked = None  # the hand was away: the same letter may count again
        # the word gap counts from the first frame seen without a hand (never a frame early)
        if self._word and t - self._no_hand_since + _EPS >= self.config.word_gap_s:
            return [self._complete(t)]
        return []

    def _complete(self, t: float) -> DecoderEvent:
        word = self.current_word
        evidence = np.stack(self._evidence)
        self._word.clear()
        self._evidence.clear()
        self._last_word = word
        return DecoderEvent("word", word, t, evidence=evidence)

    def _reset_timing(self) -> None:
        """Forget every time mark; a blocked letter stays blocked until it is seen released."""
        self._candidate = None
        self._gone_s = 0.0
        self._no_hand_s = 0.0
        self._no_hand_since = None
        self._last_t = -math.inf
