"""Decoder on realistic probability streams at several frame rates (time is driven explicitly).

A stream is a script of segments: a held letter (confidence ramps up over the first ~0.15 s, as a
classifier's does while the hand settles, then stays high with noise), a transition (confidence
spread over several letters, none above threshold), the background class, a brief flicker of a
wrong letter above threshold, or no hand at all.
"""

from __future__ import annotations

import dataclasses
import string

import numpy as np
import pytest

from edge.config import DecoderConfig
from edge.decoder import Decoder, DecoderEvent, letter_of

LABELS = [*string.ascii_uppercase, "_"]  # "_" = background class, as a classifier may have
FPS = (8.0, 15.0, 30.0)
# the mechanism at slow, careful settings (threshold 0.7, hold 0.4 s, release 0.25 s); the
# shipped streaming defaults are tested at natural speed below
CONFIG = DecoderConfig(threshold=0.7, hold_s=0.4, release_s=0.25)


def probs_for(rng: np.random.Generator, label: str, p: float) -> np.ndarray:
    probs = rng.random(len(LABELS)) * 0.05
    idx = LABELS.index(label)
    probs[idx] = 0.0
    probs *= (1.0 - p) / probs.sum()
    probs[idx] = p
    return probs.astype(np.float32)


def stream(
    script: list[tuple[str | None, float]], fps: float, seed: int = 0
) -> list[tuple[float, np.ndarray | None]]:
    """Frames (t, probs or None) for a script of (what, seconds).

    what: a letter (held, ramping up), "=X" (X held, no ramp), "?X" (X on top but unsure: below
    threshold), "~" (transition), "_" (background class), "!X" (X flickers above threshold),
    None (no hand).
    """
    rng = np.random.default_rng(seed)
    frames: list[tuple[float, np.ndarray | None]] = []
    t = 0.0
    i = 0
    for what, duration in script:
        start = t
        while t < start + duration - 1e-9:
            into = t - start
            if what is None:
                probs = None
            elif what == "~":
                top = LABELS[rng.integers(26)]
                probs = probs_for(rng, top, rng.uniform(0.25, 0.6))
            elif what == "_":
                probs = probs_for(rng, "_", rng.uniform(0.75, 0.95))
            elif what.startswith("!"):
                probs = probs_for(rng, what[1], rng.uniform(0.75, 0.9))
            elif what.startswith("?"):  # X still on top but below any threshold
                probs = probs_for(rng, what[1], rng.uniform(0.3, 0.45))
            elif what.startswith("="):
                probs = probs_for(rng, what[1], rng.uniform(0.85, 0.98))
            else:
                ramp = min(1.0, into / 0.15)
                probs = probs_for(rng, what, 0.5 + ramp * rng.uniform(0.35, 0.48))
            frames.append((t, probs))
            i += 1
            t = i / fps
    return frames


def run(
    frames: list[tuple[float, np.ndarray | None]], config: DecoderConfig = CONFIG
) -> tuple[Decoder, list[DecoderEvent]]:
    decoder = Decoder(config, LABELS)
    events: list[DecoderEvent] = []
    for t, probs in frames:
        events.extend(decoder.update(t, probs))
    return decoder, events


def texts(events: list[DecoderEvent], kind: str) -> list[str]:
    return [e.text for e in events if e.kind == kind]


def spell(word: str, release: float = 0.5, hold: float = 0.7) -> list[tuple[str | None, float]]:
    """Letters held `hold`, with a move of `release` between them: unsure at its ends, clearly
    between letters (the `_` class) in its middle, as a classifier trained with `_` reads it."""
    script: list[tuple[str | None, float]] = []
    for i, letter in enumerate(word):
        if i:
            script += [("~", 0.1), ("_", release - 0.2), ("~", 0.1)]
        script.append((letter, hold))
    return script


@pytest.mark.parametrize("fps", FPS)
def test_hello_keeps_its_double_l_and_ends_on_no_hand(fps: float) -> None:
    decoder, events = run(stream([*spell("HELLO"), (None, 1.5)], fps))
    assert texts(events, "letter") == list("HELLO")
    assert texts(events, "word") == ["HELLO"]
    assert events[-1].kind == "word"
    assert decoder.last_word == "HELLO"
    assert decoder.current_word == ""


@pytest.mark.parametrize("fps", FPS)
def test_word_completes_only_after_the_word_gap_of_no_hand(fps: float) -> None:
    frames = stream([*spell("HI"), (None, 0.6), *spell("YO"), (None, 0.9)], fps)
    decoder, events = run(frames)
    # 0.6 s and 0.9 s without a hand are shorter than the 1.0 s word gap: one word, unfinished
    assert texts(events, "word") == []
    assert decoder.current_word == "HIYO"
    t_last = frames[-1][0]
    assert decoder.update(t_last + 0.2, None)[0] == DecoderEvent("word", "HIYO", t_last + 0.2)


@pytest.mark.parametrize("fps", FPS)
def test_the_background_class_is_no_letter_but_not_no_hand(fps: float) -> None:
    decoder, events = run(stream([("C", 0.7), ("_", 2.0), ("A", 0.7), ("_", 2.0)], fps))
    assert texts(events, "letter") == ["C", "A"]
    assert texts(events, "word") == []  # a hand was there all the time
    assert decoder.current_word == "CA"


@pytest.mark.parametrize("fps", FPS)
def test_flicker_shorter_than_the_hold_is_rejected(fps: float) -> None:
    script = [("A", 0.7), ("!K", 0.2), ("A", 0.3), ("~", 0.3), ("!Q", 0.25), ("B", 0.7)]
    _, events = run(stream([*script, (None, 1.5)], fps))
    assert texts(events, "letter") == ["A", "B"]
    assert texts(events, "word") == ["AB"]


@pytest.mark.parametrize("fps", FPS)
def test_a_different_letter_may_follow_directly_without_a_release(fps: float) -> None:
    _, events = run(stream([("N", 0.7), ("O", 0.7), (None, 1.5)], fps))
    assert texts(events, "word") == ["NO"]


@pytest.mark.parametrize("fps", FPS)
def test_a_long_hold_or_a_short_dip_does_not_repeat_a_letter(fps: float) -> None:
    # 3 s of one L, then a dip shorter than release_s (0.25 s), then straight back to L
    _, events = run(stream([("L", 3.0), ("~", 0.1), ("=L", 1.0), (None, 1.5)], fps))
    assert texts(events, "word") == ["L"]


@pytest.mark.parametrize("fps", FPS)
def test_the_same_script_gives_the_same_events_at_every_frame_rate(fps: float) -> None:
    script = [*spell("BOOKKEEPER"), (None, 1.2), *spell("ZOO"), (None, 1.2)]
    _, events = run(stream(script, fps, seed=int(fps)))
    assert texts(events, "word") == ["BOOKKEEPER", "ZOO"]


def test_max_word_length_completes_the_word_and_starts_the_next() -> None:
    config = dataclasses.replace(CONFIG, max_word_length=3)
    decoder, events = run(stream([*spell("ABCDE"), (None, 1.5)], 30.0), config)
    assert texts(events, "word") == ["ABC", "DE"]
    assert [e.kind for e in events[:4]] == ["letter", "letter", "letter", "word"]
    assert decoder.last_word == "DE"


def test_max_length_does_not_restart_the_next_word_with_the_held_letter() -> None:
    config = dataclasses.replace(CONFIG, max_word_length=2)
    _, events = run(stream([("A", 0.7), ("B", 3.0), (None, 1.5)], 30.0), config)
    assert texts(events, "word") == ["AB"]  # B held on: no "B" word


def test_clear_discards_the_word_being_spelled() -> None:
    decoder, events = run(stream([*spell("HELP"), ("~", 0.3)], 15.0))
    assert decoder.current_word == "HELP"
    cleared = decoder.clear(9.0)
    assert cleared == [DecoderEvent("cleared", "HELP", 9.0)]
    assert decoder.current_word == ""
    assert decoder.last_word == ""  # nothing was completed
    assert decoder.clear(9.1) == []  # nothing left to clear
    # no hand afterwards completes nothing
    assert decoder.update(9.2, None) == []
    assert decoder.update(12.0, None) == []


def test_clear_while_a_letter_is_held_needs_a_full_hold_again() -> None:
    decoder = Decoder(CONFIG, LABELS)
    rng = np.random.default_rng(1)
    for i in range(9):  # 0.3 s of W: not yet accepted
        assert decoder.update(i / 30.0, probs_for(rng, "W", 0.9)) == []
    decoder.clear(9 / 30.0)
    accepted = [i for i in range(9, 40) if decoder.update(i / 30.0, probs_for(rng, "W", 0.9))]
    assert accepted[0] / 30.0 - 9 / 30.0 == pytest.approx(CONFIG.hold_s, abs=1 / 30.0 + 1e-9)


def test_clear_keeps_the_last_completed_word_for_repeat() -> None:
    decoder, _ = run(stream([*spell("YES"), (None, 1.5), ("N", 0.7)], 30.0))
    assert decoder.clear(10.0)[0].text == "N"
    assert decoder.last_word == "YES"


def test_broken_model_output_reads_as_no_letter_and_a_label_mismatch_is_named() -> None:
    decoder = Decoder(CONFIG, LABELS)
    nan = np.full(len(LABELS), np.nan, np.float32)
    assert all(decoder.update(i / 30.0, nan) == [] for i in range(60))
    assert decoder.current_word == ""
    with pytest.raises(ValueError, match="27 labels"):
        decoder.update(3.0, np.zeros(5, np.float32))


def test_a_non_finite_time_is_ignored_not_accepted() -> None:
    decoder = Decoder(CONFIG, LABELS)
    rng = np.random.default_rng(2)
    assert decoder.update(0.0, probs_for(rng, "Q", 0.95)) == []
    assert decoder.candidate == "Q"
    assert decoder.update(float("nan"), probs_for(rng, "Q", 0.95)) == []
    assert decoder.update(float("inf"), None) == []
    assert decoder.current_word == ""
    assert decoder.update(0.2, probs_for(rng, "Q", 0.95)) == []
    assert [e.text for e in decoder.update(0.4, probs_for(rng, "Q", 0.95))] == ["Q"]
    assert decoder.candidate is None  # accepted: nothing pending any more


def test_time_going_backwards_keeps_the_word() -> None:
    decoder, _ = run(stream(spell("OK"), 30.0))
    assert decoder.current_word == "OK"
    assert decoder.update(0.1, None) == []  # the clock restarted (a replay looped)
    assert decoder.current_word == "OK"
    assert decoder.update(1.2, None) == [DecoderEvent("word", "OK", 1.2)]


def test_labels_that_are_not_one_letter_are_no_letter() -> None:
    assert [letter_of(x) for x in ("A", " z ", "_", "nothing", "", "1", "Ä")] == [
        "A",
        "Z",
        None,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize("fps", FPS)
def test_word_carries_the_mean_probabilities_each_letter_was_accepted_on(fps: float) -> None:
    _, events = run(stream([*spell("HI"), (None, 1.5)], fps))
    letters = [e for e in events if e.kind == "letter"]
    (word,) = [e for e in events if e.kind == "word"]
    assert word.evidence.shape == (2, len(LABELS))
    for row, letter_event in zip(word.evidence, letters, strict=True):
        np.testing.assert_array_equal(row, letter_event.evidence)
        assert LABELS[int(row.argmax())] == letter_event.text
        assert row.max() >= CONFIG.threshold  # a mean over frames that each passed it
    assert word.raw is None  # nothing corrected it


# -- the shipped streaming settings, at natural spelling speed ---------------------------------
STREAMING = DecoderConfig()  # the defaults config.yaml ships


def fluent(word: str, letter_s: float, move_s: float) -> list[tuple[str | None, float]]:
    """A word at speed: each letter held `letter_s` (shown at once, no ramp), `_` moves between
    letters, a `_` release of the same length between the two halves of a double letter."""
    script: list[tuple[str | None, float]] = [(None, 0.5)]
    for i, letter in enumerate(word):
        if i:
            script.append(("_", move_s))
        script.append((f"={letter}", letter_s))
    return [*script, (None, 1.5)]


@pytest.mark.parametrize("fps", FPS)
def test_a_letter_of_0_15_s_is_accepted_at_8_fps_as_at_30(fps: float) -> None:
    """4 letters/s: 0.15 s letters, 0.1 s moves; the double L's release is one such move."""
    _, events = run(stream(fluent("HELLO", 0.15, 0.1), fps), STREAMING)
    assert texts(events, "word") == ["HELLO"]


@pytest.mark.parametrize("fps", FPS)
def test_a_long_hold_gives_one_letter_even_when_the_model_wavers(fps: float) -> None:
    """3 s of one letter whose confidence dips below threshold now and then (a frame or two):
    unsure frames are no release, so the letter is not doubled."""
    script = [(None, 0.5), ("=L", 1.0), ("?L", 2 / fps), ("=L", 1.0), ("?L", 1 / fps), ("=L", 1.0)]
    _, events = run(stream([*script, (None, 1.5)], fps), STREAMING)
    assert texts(events, "word") == ["L"]


@pytest.mark.parametrize("fps", FPS)
def test_a_double_letter_needs_its_release_even_at_speed(fps: float) -> None:
    released = run(stream(fluent("OO", 0.2, 0.15), fps), STREAMING)[1]
    held_on = run(stream([(None, 0.5), ("=O", 0.55), (None, 1.5)], fps), STREAMING)[1]
    assert texts(released, "word") == ["OO"]
    assert texts(held_on, "word") == ["O"]  # the same time, no release: one O
