"""Enrolment end to end with real components: a real recording of a source the model never
trained on, the shipped INT8 model in LiteRT, the daemon's loop fed by a landmark replay (no
camera), real espeak-ng prompts written to a WAV, and the gpiozero MockFactory button.
"""

from __future__ import annotations

import csv
import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import SHARED_DATA_DIR, Config, load_config
from edge.daemon import ENROL, Daemon
from edge.enrolment import ENROL_LETTERS, EnrolmentError, parse_letters
from edge.signer_profile import load_profile, model_identity
from edge.speech import WavFileSink, read_wav

SIGN2SOUND = Path(sys.executable).parent / "sign2sound"
LANDMARKS = SHARED_DATA_DIR / "landmarks"
HELD_OUT = "priyamwadasonnet"  # a validation source: never trained on, the model's weakest
CLEAN = "vedantborse-ai"  # another one, with clean frames for the live flow
FPS = 30.0
PIN = 17


def source_rows(source: str) -> tuple[list[str], list[list[str]]]:
    with (LANDMARKS / f"{source}.csv").open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def split_first(rows: list[list[str]], n: int) -> tuple[list[list[str]], list[list[str]]]:
    """The first n rows of each letter (file order), and the rest."""
    seen: dict[str, int] = {}
    first, rest = [], []
    for row in rows:
        seen[row[0]] = seen.get(row[0], 0) + 1
        (first if seen[row[0]] <= n else rest).append(row)
    return first, rest


def held_top1(csv_path: Path, profile: Path | None) -> float:
    """`sign2sound eval` on held letters: the 24 static letters' top-1 (with --profile P)."""
    cmd = [str(SIGN2SOUND), "eval", str(csv_path)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    match = re.search(r"24 letters held still \(no J, Z\): top-1 ([0-9.]+)", result.stdout)
    assert match, result.stdout
    return float(match.group(1))


def test_enrolment_from_a_recording_improves_the_model_on_a_held_out_source(tmp_path) -> None:
    header, rows = source_rows(HELD_OUT)
    first, rest = split_first(rows, 10)
    recording = write_csv(tmp_path / "my_alphabet.csv", header, first)
    test = write_csv(tmp_path / "rest.csv", header, rest)
    profile = tmp_path / "state" / "signer_profile.json"
    enrol = subprocess.run(
        [str(SIGN2SOUND), "enroll", "--from", str(recording), "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert enrol.returncode == 0, enrol.stderr
    assert profile.exists() and "derived numbers only" in enrol.stdout
    loaded = load_profile(
        profile,
        model_sha256=model_identity(load_config().resolve_path("models/letters_int8.tflite")),
        labels=tuple((Path(__file__).parents[1] / "models" / "labels.txt").read_text().split()),
    )
    # every held letter the recording has (this source has no F); J and Z are motions
    assert set(loaded.letter_names) == {row[0] for row in first} - {"J", "Z"}
    before = held_top1(test, None)
    after = held_top1(test, profile)
    assert after >= before + 0.03, (before, after)


def hold(row: list[str], n: int, rng: np.random.Generator, jitter: float = 0.0015):
    """n frames of one real hand held still (a little tracker jitter, image units)."""
    coords = np.array([float(v) for v in row[1:64]])
    return [coords + rng.normal(0, jitter, 63) for _ in range(n)]


def enrolment_replay(path: Path, plan: list[tuple[str, str]], capture_s: float) -> Path:
    """A replay of a signer answering the prompts: one segment per prompt, each as long as the
    session watches (settle + capture, plus the frame that ends it); 'steady' holds one real
    frame of the letter, 'shaky' jumps between frames of different letters."""
    from edge.enrolment import SETTLE_S

    header, rows = source_rows(CLEAN)
    by_letter: dict[str, list[list[str]]] = {}
    for row in rows:
        by_letter.setdefault(row[0], []).append(row)
    rng = np.random.default_rng(0)
    per_segment = int(round((SETTLE_S + capture_s) * FPS)) + 1
    frames: list[np.ndarray] = []
    labels: list[str] = []
    for letter, how in plan:
        if how == "steady":
            frames += hold(by_letter[letter][0], per_segment, rng)
        else:
            others = [by_letter[c][0] for c in "AOVY"]
            frames += [hold(others[(k // 2) % 4], 1, rng, 0.01)[0] for k in range(per_segment)]
        labels += [letter] * per_segment
    extra = ["handedness", "score", "width", "height", "source", "sequence", "frame", "t_ms"]
    out_header = ["label", *header[1:64], *extra]
    meta = {name: rows[0][header.index(name)] for name in ("handedness", "width", "height")}
    out = [
        [labels[k], *(f"{v:.5f}" for v in coords), meta["handedness"], "0.95", meta["width"],
         meta["height"], CLEAN, "enrol", str(k), f"{k * 1000 / FPS:.3f}"]
        for k, coords in enumerate(frames)
    ]  # fmt: skip
    return write_csv(path, out_header, out)


def enrol_config(tmp_path: Path, replay: Path, **gpio) -> Config:
    config = load_config()
    return dataclasses.replace(
        config,
        camera=dataclasses.replace(config.camera, source=f"replay:{replay}", realtime=False),
        classifier=dataclasses.replace(config.classifier, profile=str(tmp_path / "profile.json")),
        transcript=dataclasses.replace(config.transcript, path=str(tmp_path / "transcript.txt")),
        enrolment=dataclasses.replace(config.enrolment, capture_s=1.0, min_frames=6),
        gpio=dataclasses.replace(config.gpio, **gpio),
        speech=dataclasses.replace(config.speech, letter_feedback="none"),
    )


def test_live_enrolment_prompts_through_espeak_and_reasks_an_unsteady_letter(tmp_path) -> None:
    plan = [("A", "steady"), ("B", "shaky"), ("B", "steady"), ("C", "steady")]
    replay = enrolment_replay(tmp_path / "enrol.csv", plan, capture_s=1.0)
    config = enrol_config(tmp_path, replay)
    sink = WavFileSink(tmp_path / "prompts.wav")
    daemon = Daemon(config, player=sink, enrol=("A", "B", "C"), stop_after_enrolment=True)
    summary = daemon.run()
    session = daemon.last_enrolment
    assert session is not None and session.done
    attempts = {o.letter: (o.attempts, o.accepted) for o in session.outcomes}
    assert attempts == {"A": (1, True), "B": (2, True), "C": (1, True)}
    assert all(o.frames >= 6 for o in session.outcomes)
    assert summary.words == [] and summary.letters == []  # enrolment spells nothing
    # every frame went to enrolment, none through the pipeline, and the summary says so
    assert summary.frames == 0 and summary.enrolment_frames >= sum(
        o.frames for o in session.outcomes
    )
    # spoken: the intro, "sign A" + beep, "sign B" + beep, "again, sign B" + beep,
    # "sign C" + beep, "enrolment done": real espeak-ng speech in the WAV
    assert sink.utterances == 10
    samples, rate = read_wav(tmp_path / "prompts.wav")
    assert len(samples) / rate > 4.0 and np.abs(samples).max() > 3000
    profile = load_profile(
        tmp_path / "profile.json",
        model_sha256=model_identity(daemon.classifier.model_path),
        labels=tuple(daemon.classifier.labels),
    )
    assert profile.letter_names == ("A", "B", "C")
    assert daemon.pipeline.profile.adapter is not None  # in use from the next frame
    assert "profile.json (3 letters" in daemon.status_text(1.0)


def enrol_ab(tmp_path: Path, plan: list[tuple[str, str]]) -> tuple[Daemon, dict]:
    """Enrol A and B from a replay of `plan`; the daemon and each letter's outcome."""
    replay = enrolment_replay(tmp_path / "enrol.csv", plan, capture_s=1.0)
    config = enrol_config(tmp_path, replay)
    daemon = Daemon(
        config, player=WavFileSink(tmp_path / "p.wav"), enrol=("A", "B"), stop_after_enrolment=True
    )
    daemon.run()
    return daemon, {o.letter: o for o in daemon.last_enrolment.outcomes}


def test_a_letter_never_steady_is_skipped_after_its_attempts(tmp_path) -> None:
    plan = [("A", "steady"), ("B", "shaky"), ("B", "shaky"), ("B", "shaky")]
    daemon, outcomes = enrol_ab(tmp_path, plan)
    assert outcomes["A"].accepted and not outcomes["B"].accepted
    assert outcomes["B"].attempts == daemon.config.enrolment.attempts == 3
    assert "steady frames" in outcomes["B"].reason
    assert daemon.last_enrolment.state.adapter.letters == ("A",)


def test_a_recording_that_ends_early_enrols_what_it_showed(tmp_path) -> None:
    daemon, outcomes = enrol_ab(tmp_path, [("A", "steady")])
    assert outcomes["A"].accepted and not outcomes["B"].accepted
    assert "not asked" in outcomes["B"].reason
    assert daemon.last_enrolment.state.adapter.letters == ("A",)


def test_a_box_stopped_mid_enrolment_keeps_its_old_profile(tmp_path) -> None:
    plan = [(letter, "steady") for letter in "ABC"]
    replay = enrolment_replay(tmp_path / "enrol.csv", plan, capture_s=1.0)
    config = enrol_config(tmp_path, replay)
    config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, realtime=True))
    old = b"an older profile\n"
    (tmp_path / "profile.json").write_bytes(old)
    daemon = Daemon(
        config,
        player=WavFileSink(tmp_path / "p.wav"),
        enrol=ENROL_LETTERS,  # the whole alphabet: the old file is not read, only replaced
        stop_after_enrolment=True,
        max_seconds=1.0,  # in real time: stopped during the first letter
    )
    daemon.run()
    assert daemon.last_enrolment.done and daemon.last_enrolment.state is None
    assert (tmp_path / "profile.json").read_bytes() == old


def test_a_long_button_hold_starts_enrolment(tmp_path) -> None:
    plan = [(letter, "steady") for letter in ENROL_LETTERS]  # the whole alphabet, as a box does
    replay = enrolment_replay(tmp_path / "enrol.csv", plan, capture_s=1.0)
    config = enrol_config(tmp_path, replay, pin=PIN, hold_s=0.2, enrol_hold_s=0.6)
    factory = MockFactory()
    try:
        daemon = Daemon(
            config,
            player=WavFileSink(tmp_path / "p.wav"),
            pin_factory=factory,
            stop_after_enrolment=True,
        )
        pin = factory.pin(PIN)
        pin.drive_low()
        deadline = time.monotonic() + 10.0
        while daemon.button.long_holds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        pin.drive_high()
        assert daemon.button.long_holds == 1 and daemon.button.presses == 0
        daemon.run()
    finally:
        factory.reset()
    session = daemon.last_enrolment
    assert session is not None and session.done
    assert [o.letter for o in session.outcomes if o.accepted] == list(ENROL_LETTERS)
    assert (tmp_path / "profile.json").exists()


def test_a_short_press_does_not_enrol(tmp_path) -> None:
    from edge.button import ButtonController

    calls: list[str] = []
    gpio = dataclasses.replace(load_config().gpio, pin=PIN, hold_s=5.0, enrol_hold_s=6.0)
    factory = MockFactory()
    try:
        button = ButtonController(
            gpio,
            lambda: calls.append("clear"),
            lambda: calls.append("repeat"),
            pin_factory=factory,
            on_long_hold=lambda: calls.append(ENROL),
        )
        pin = factory.pin(PIN)
        pin.drive_low()
        pin.drive_high()
        time.sleep(0.2)
        button.close()
    finally:
        factory.reset()
    assert calls == ["clear"]


def test_motion_letters_and_non_letters_are_refused() -> None:
    assert parse_letters("a, b,c") == ("A", "B", "C")
    assert len(parse_letters(None)) == 24
    with pytest.raises(EnrolmentError, match="J and Z are motions"):
        parse_letters("AJZ")
    with pytest.raises(EnrolmentError, match="not a letter"):
        parse_letters("A1")


def test_enrolment_lowers_word_errors_through_the_daemons_pipeline() -> None:
    """The protocol of benchmarks/enrolment.py on one held-out source: words spelled at 2
    letters/s from the frames not used for enrolment, replayed through Pipeline with and
    without the profile (the hook between the classifier and the decoder)."""
    from edge.dataset import load_landmark_csv
    from edge.enrol_eval import evaluate_source, read_words
    from edge.pipeline import load_classifier

    config = load_config()
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, profile="")
    )
    table = load_landmark_csv(LANDMARKS / f"{HELD_OUT}.csv")
    words = read_words(Path(__file__).parents[1] / "models" / "eval" / "words" / "wordlist.txt")
    result = evaluate_source(
        config, load_classifier(config), table, HELD_OUT, 10, words=words[:30], rate=2.0
    )
    assert result.words >= 20 and result.held_after > result.held_before
    assert result.distance_after < result.distance_before, result
