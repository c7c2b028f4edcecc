"""The signer profile: made from real frames of a source the model never trained on, with the
shipped INT8 classifier in LiteRT; refused in one line when corrupt, empty or made for another
model; removable; holding derived numbers only; applied between the classifier and the decoder.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.adaptation import HAND_FRAME_DIM, hand_frame_features, merge_letters
from edge.classifier import LetterClassifier
from edge.config import MODELS_DIR, SHARED_DATA_DIR, load_config
from edge.dataset import load_landmark_csv
from edge.enrol_eval import first_frames
from edge.enrolment import ENROL_LETTERS, fit_profile, samples_from_table
from edge.pipeline import Pipeline
from edge.signer_profile import (
    ProfileError,
    load_adapter,
    load_profile,
    profile_state,
    reset_profile,
    save_profile,
)

SIGN2SOUND = Path(sys.executable).parent / "sign2sound"
SOURCE = "priyamwadasonnet"  # a validation source: never trained on
LABELS = MODELS_DIR / "labels.txt"


@pytest.fixture(scope="module")
def classifier() -> LetterClassifier:
    return LetterClassifier(MODELS_DIR / "letters_int8.tflite", LABELS, MODELS_DIR / "SHA256SUMS")


@pytest.fixture(scope="module")
def enrolment(classifier):
    """(table of the enrolment frames, the profile fitted on them)."""
    table = load_landmark_csv(SHARED_DATA_DIR / "landmarks" / f"{SOURCE}.csv")
    enrol = table.select(first_frames(table, 10))
    samples = samples_from_table(enrol, classifier, load_config())
    return enrol, fit_profile(samples.features, classifier=classifier)


def held_window(classifier, shape: np.ndarray) -> np.ndarray:
    """A window of one hand held still (its shape on every step)."""
    window = np.zeros((classifier.steps, classifier.channels), np.float32)
    window[:, :63] = shape
    window[:, 63] = 1.0
    return window


def config_with(profile: Path | str):
    config = load_config()
    return dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, profile=str(profile))
    )


def test_a_saved_profile_loads_back_to_the_same_adapter(tmp_path, classifier, enrolment) -> None:
    _, profile = enrolment
    path = tmp_path / "p.json"
    save_profile(profile, path)
    assert path.stat().st_mode & 0o077 == 0  # only its owner reads it
    loaded, adapter = load_adapter(path, classifier)
    assert loaded.letter_names == profile.letter_names
    assert loaded.model_sha256 == classifier.sha256
    table = load_landmark_csv(SHARED_DATA_DIR / "landmarks" / f"{SOURCE}.csv")
    window = held_window(classifier, table.features()[123])
    probs = classifier.predict(window).copy()
    a = profile.adapter().apply(window, probs).copy()
    b = adapter.apply(window, probs)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_the_adapter_moves_only_the_enrolled_letters_mass(classifier, enrolment) -> None:
    enrol, profile = enrolment
    adapter = profile.adapter()
    labels = list(classifier.labels)
    untouched = [labels.index(c) for c in ("J", "Z", "_")]
    table = load_landmark_csv(SHARED_DATA_DIR / "landmarks" / f"{SOURCE}.csv")
    feats = table.features()
    for k in range(0, len(table), 97):
        window = held_window(classifier, feats[k])
        probs = classifier.predict(window).copy()
        out = adapter.apply(window, probs)
        assert out.sum() == pytest.approx(probs.sum(), abs=1e-4)
        np.testing.assert_allclose(out[untouched], probs[untouched], atol=1e-6)
    # a window whose newest step has no hand is passed on as it is
    empty = np.zeros((classifier.steps, classifier.channels), np.float32)
    probs = classifier.predict(empty).copy()
    np.testing.assert_array_equal(adapter.apply(empty, probs), probs)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "signer_profile.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: "", "empty"),
        (lambda text: text[: len(text) // 2], "corrupt (not JSON"),
        (lambda text: text.replace('"letters":{', '"letters":{"Q1":{},', 1), "corrupt"),
        (lambda text: json.dumps({**json.loads(text), "letters": {}}), "holds no letters"),
        (lambda text: json.dumps({**json.loads(text), "model_sha256": "0" * 64}), "another model"),
        (
            lambda text: json.dumps({**json.loads(text), "covariance": [[1.0]]}),
            "no usable covariance",
        ),
        (lambda text: "[1, 2, 3]\n", "not a sign2sound signer profile"),
    ],
)
def test_a_bad_profile_is_refused_in_one_line(
    tmp_path, classifier, enrolment, damage, expected
) -> None:
    _, profile = enrolment
    good = tmp_path / "good.json"
    save_profile(profile, good)
    path = _write(tmp_path, damage(good.read_text()))
    with pytest.raises(ProfileError) as info:
        load_adapter(path, classifier)
    message = str(info.value)
    assert expected in message
    assert str(path) in message and "\n" not in message


def test_the_daemon_runs_on_the_model_alone_when_its_profile_is_refused(
    tmp_path, classifier, enrolment, caplog
) -> None:
    _, profile = enrolment
    save_profile(dataclasses.replace(profile, model_sha256="f" * 64), tmp_path / "old.json")
    config = config_with(tmp_path / "old.json")
    pipeline = Pipeline(config, classifier)
    assert pipeline.profile.adapter is None and "refused" in pipeline.profile.summary
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "another model" in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage()
    # strict (eval, enroll --letters): the same problem stops the command
    with pytest.raises(ProfileError, match="another model"):
        profile_state(config, classifier, strict=True)
    # not enrolled, and adaptation off
    missing = Pipeline(config_with(tmp_path / "none.json"), classifier)
    assert missing.profile.adapter is None and "not enrolled" in missing.profile.summary
    assert Pipeline(config_with(""), classifier).profile.summary == "profile off"


def test_eval_with_a_foreign_profile_exits_with_one_line(tmp_path, enrolment) -> None:
    _, profile = enrolment
    path = tmp_path / "foreign.json"
    save_profile(dataclasses.replace(profile, model_sha256="a" * 64), path)
    words = MODELS_DIR / "eval" / "words" / "val_words.csv.gz"
    result = subprocess.run(
        [str(SIGN2SOUND), "eval", str(words), "--profile", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "another model" in lines[0] and str(path) in lines[0]


def test_the_profile_holds_derived_numbers_only(tmp_path, classifier, enrolment) -> None:
    enrol, profile = enrolment
    path = tmp_path / "p.json"
    save_profile(profile, path)
    data = json.loads(path.read_text())
    assert set(data) == {
        "format", "version", "privacy", "model_sha256", "model_file", "labels", "created",
        "feature", "fusion", "letters", "covariance", "covariance_dof",
    }  # fmt: skip
    assert set(data["letters"]) <= set(ENROL_LETTERS)
    for entry in data["letters"].values():
        assert set(entry) == {"frames", "mean"} and entry["frames"] >= 2
        assert len(entry["mean"]) == HAND_FRAME_DIM
    # no stored vector is any one enrolment frame (raw landmarks or features)
    stored = np.array([e["mean"] for e in data["letters"].values()])
    frames = hand_frame_features(enrol.features())
    nearest = np.abs(frames[:, None, :] - stored[None]).max(axis=2).min()
    assert nearest > 1e-3
    # every number in the file: per letter a mean and a count, one covariance, a few settings;
    # nothing grows with the number of frames enrolled
    letters = len(data["letters"])
    expected = letters * (HAND_FRAME_DIM + 1) + HAND_FRAME_DIM**2 + len(data["fusion"]) + 2
    assert count_numbers(data) == expected


def count_numbers(value) -> int:
    if isinstance(value, dict):
        return sum(count_numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_numbers(v) for v in value)
    return int(isinstance(value, int | float) and not isinstance(value, bool))


def test_letters_redone_replace_only_their_own_means(classifier, enrolment) -> None:
    _, profile = enrolment
    table = load_landmark_csv(SHARED_DATA_DIR / "landmarks" / f"{SOURCE}.csv")
    later = table.select(first_frames(table, 20) & ~first_frames(table, 10))  # frames 10-19
    again = later.select(np.isin(later.labels, ["A", "S"]))
    samples = samples_from_table(again, classifier, load_config(), ("A", "S"))
    merged = fit_profile(samples.features, classifier=classifier, base=profile)
    assert merged.letter_names == profile.letter_names
    for c in profile.letter_names:
        same = np.array_equal(merged.letters.means[c], profile.letters.means[c])
        assert same == (c not in ("A", "S")), c
    redone = sum(profile.letters.frames[c] - 1 for c in ("A", "S"))
    added = sum(len(samples.features[c]) - 1 for c in ("A", "S"))
    assert merged.letters.dof == profile.letters.dof - redone + added
    assert merge_letters(profile.letters, profile.letters).dof == profile.letters.dof


def test_enroll_reset_removes_the_profile(tmp_path, enrolment) -> None:
    _, profile = enrolment
    path = tmp_path / "signer_profile.json"
    save_profile(profile, path)
    cmd = [str(SIGN2SOUND), "enroll", "--reset", "--set", f"classifier.profile={path}"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and "removed" in first.stdout
    assert not path.exists()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "nothing to remove" in second.stdout
    assert reset_profile(path) is False


def test_profile_file_is_looked_for_in_the_state_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config = load_config()
    assert config.profile_path() == tmp_path / "state" / "signer_profile.json"
    assert config.profile_path().parent == config.transcript_path().parent
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    with pytest.raises(ProfileError, match="no signer profile here"):
        load_profile(
            config.profile_path(), model_sha256="0" * 64, labels=tuple(LABELS.read_text().split())
        )


def test_a_reload_picks_up_a_profile_enrolled_while_running(tmp_path, enrolment) -> None:
    """`enroll --from` (or `--reset`) next to a running box, then `systemctl reload`."""
    import threading
    import time

    from edge.config import REPO_ROOT
    from edge.daemon import Daemon
    from edge.speech import WavFileSink

    _, profile = enrolment
    path = tmp_path / "signer_profile.json"
    demo = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
    overrides = [  # kept by the reload, as `--set` is for the service
        f"classifier.profile={path}",
        f"camera.source=replay:{demo}",
        f"transcript.path={tmp_path / 't.txt'}",
    ]
    config = load_config(None, overrides)
    daemon = Daemon(config, overrides=overrides, player=WavFileSink(tmp_path / "s.wav"))
    assert daemon.pipeline.profile.adapter is None  # not enrolled yet
    runner = threading.Thread(target=daemon.run)
    runner.start()
    try:
        save_profile(profile, path)
        daemon.signals.request_reload()
        deadline = time.monotonic() + 20.0
        while daemon.pipeline.profile.adapter is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.pipeline.profile.adapter is not None
        assert "signer_profile.json (" in daemon.status_text(1.0)
        reset_profile(path)
        daemon.signals.request_reload()
        deadline = time.monotonic() + 20.0
        while daemon.pipeline.profile.adapter is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.pipeline.profile.adapter is None
    finally:
        daemon.request_stop()
        runner.join(30.0)
