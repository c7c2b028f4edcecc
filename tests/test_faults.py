"""Fault injection against the whole daemon: every fault a box on a shelf meets, injected into a
real run, and what the box must do about it (keep running, or stop with one clear line) without
losing a completed word.

What is already proven elsewhere is not repeated here: the capture thread's reopen on the source
level (test_sources), the pipeline's bad-frame / raising-tracker / NaN handling with a scripted
tracker (test_pipeline), black/truncated/wrong-sized frames and a raising stage on the real
MediaPipe, a camera lost mid-word, a camera that never delivers, missing model files and a
checksum mismatch (test_daemon), the transcript and speaker units (test_transcript,
test_speech). Here the other faults hit the daemon with its real collaborators: two camera
outages in one word, real `aplay` on a missing card and real espeak-ng with a missing voice, a
real read-only and a really full filesystem (tmpfs in a private mount namespace), real truncated
and wrongly shaped .tflite files, NaN/inf rows through the real replay reader, one missed frame
anywhere in a word, and the STATUS= lines systemd would show, read from a real AF_UNIX socket.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fault_sources import FlakyCamera
from reliability_helpers import (
    DEMO_CSV,
    DEMO_VIDEO,
    NotifySocket,
    WatchedNotifier,
    make_config,
    repeated_replay_csv,
    transcript_words,
)

from edge import cli, sources
from edge.config import REPO_ROOT
from edge.daemon import Daemon
from edge.sources import LandmarkReplaySource, OpenCVSource, SourceError
from edge.speech import AplayPlayer, WavFileSink, synthesize_wav, wav_duration

FAULT_MODELS = Path(__file__).resolve().parent / "fixtures" / "faults"
SHIPPED_MODEL = REPO_ROOT / "models" / "letters_int8.tflite"
NO_TRACKER = object()  # a replay wrapped as a camera carries its landmarks: no MediaPipe needed


@pytest.fixture
def restore_logging():
    """cli.main() points the root logger at this test's captured stderr; put it back after, so
    later tests do not log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- the camera goes away and comes back ---------------------------------------------------------
class OutageCamera(FlakyCamera):
    """A FlakyCamera that notes the word in progress when it fails, and holds its last failing
    reopen until the daemon has told systemd (STATUS=) that the camera is lost: the test waits
    for the real event instead of sleeping."""

    def __init__(self, inner, notifier: WatchedNotifier, **kwargs) -> None:
        super().__init__(inner, **kwargs)
        self.notifier = notifier
        self.daemon: Daemon | None = None
        self.words_at_outage: list[str] = []
        self.status_seen: list[bool] = []
        self._statuses_before = 0

    def read(self):
        try:
            return super().read()
        except SourceError:
            assert self.daemon is not None
            self.words_at_outage.append(self.daemon.pipeline.decoder.current_word)
            self._statuses_before = len(self.notifier.statuses)
            raise

    def open(self) -> None:
        if self._failing_opens == 1:  # the last failed attempt of this outage
            seen = self.notifier.wait_for_status("camera lost, retrying", self._statuses_before)
            self.status_seen.append(seen)
        super().open()


def test_camera_outages_keep_the_word_back_off_log_once_each_and_show_in_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(
        tmp_path,
        camera={"retry_initial_s": 0.1, "retry_max_s": 0.3},
        service={"status_interval_s": 0.1},
        speech={"enabled": False},
    )
    notify = NotifySocket(tmp_path / "notify.sock")
    notifier = WatchedNotifier(str(notify.path))
    camera = OutageCamera(
        LandmarkReplaySource(DEMO_CSV, realtime=False),
        notifier,
        fail_after=55,  # twice: after frame 55 (in the E) and frame 110 (in the second L)
        failed_opens=3,
        fail_times=2,
    )
    daemon = Daemon(config, source=camera, notifier=notifier, tracker=NO_TRACKER)
    camera.daemon = daemon
    with caplog.at_level(logging.DEBUG, logger=sources.log.name):
        summary = daemon.run()
    notify.close()
    messages = notify.messages()

    # the word survived both outages: one word, begun before the first, completed after the
    # second, written down; a letter held across an outage is not counted twice
    assert len(camera.words_at_outage) == 2 and all(camera.words_at_outage)
    first, second = camera.words_at_outage
    assert summary.words == ["HELLO"]
    assert summary.words[0].startswith(second) and second.startswith(first)
    assert daemon.pipeline.counters.gaps == 2
    assert transcript_words(config.transcript_path()) == summary.words
    assert summary.camera_outages == 2 and camera.open_failures == 6

    # STATUS= said so during each outage (read back from the real socket), and not after
    assert camera.status_seen == [True, True]
    lost = [m for m in messages if "STATUS=camera lost, retrying: " in m]
    assert lost and all("flaky camera" in m for m in lost)
    assert "camera lost" not in daemon.status_text(0.0)

    # logged once per outage (ERROR), once when back (WARNING); the attempts between are DEBUG
    records = [r for r in caplog.records if r.name == sources.log.name]
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and len(error_records(caplog)) == 2
    # backoff: it starts at retry_initial_s again for each outage, doubles, stops at retry_max_s
    assert all("retrying with backoff (0.1 s, up to 0.3 s)" in e for e in errors)
    waits = [
        m.group(1)
        for r in records
        if r.levelno == logging.DEBUG
        and (m := re.search(r"next attempt in ([\d.]+) s", r.getMessage()))
    ]
    assert waits == ["0.2", "0.3", "0.3"] * 2
    back = [
        r for r in records if r.levelno == logging.WARNING and "is back after" in r.getMessage()
    ]
    assert len(back) == 2


# -- audio -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("speech", "named", "hint"),
    [
        ({"alsa_device": "sign2sound_no_such_card"}, "sign2sound_no_such_card", "aplay -L"),
        ({"voice": "xx-no-such-voice", "letter_feedback": "letter"}, "xx-no-such-voice", "voice"),
    ],
    ids=["missing ALSA device", "unknown espeak-ng voice"],
)
def test_speech_that_cannot_play_is_logged_once_and_every_word_is_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, speech: dict, named: str, hint: str
) -> None:
    """Real aplay on a card that is not there, or real espeak-ng with a voice it does not have:
    recognition and the transcript go on, one ERROR for the outage, STATUS says so."""
    config = make_config(tmp_path, speech={"letter_feedback": "beep", **speech})
    csv_path = repeated_replay_csv(tmp_path / "two.csv", repeats=2)
    player = AplayPlayer(config.speech.alsa_device)
    daemon = Daemon(config, source=LandmarkReplaySource(csv_path, realtime=False), player=player)
    with caplog.at_level(logging.WARNING):
        summary = daemon.run()
    assert summary.stop_reason == "end of source"
    assert summary.words == ["HELLO", "HELLO"]
    assert transcript_words(config.transcript_path()) == ["HELLO", "HELLO"]
    speaker = daemon.speaker
    assert speaker.spoken == 0 and speaker.failed + speaker.dropped == 12  # 10 letters, 2 words
    errors = error_records(caplog)
    assert len(errors) == 1  # one line for the outage, not one per utterance
    assert named in errors[0].getMessage() and hint in errors[0].getMessage()
    assert "audio failing" in daemon.status_text(0.0)


# -- the transcript cannot be written --------------------------------------------------------------
_MOUNT_AND_RUN = """
set -e
if [ "$FAULT" = read-only ]; then
  mount -t tmpfs -o ro,size=64k sign2sound-test "$DIR"
else
  mount -t tmpfs -o size=64k sign2sound-test "$DIR"
  dd if=/dev/zero of="$DIR/filler" bs=4k count=64 2>/dev/null || true
fi
exec "$PYTHON" -m edge.cli demo --replay --wav "$WAV" --set "transcript.path=$DIR/transcript.txt"
"""


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("read-only", "Read-only file system"), ("full", "No space left on device")],
)
def test_transcript_on_a_read_only_or_full_filesystem_speech_goes_on_and_the_word_is_kept(
    tmp_path: Path, fault: str, reason: str
) -> None:
    """`sign2sound demo` with its transcript on a real tmpfs mounted read-only, or filled up, in
    a private mount namespace (the host never sees the mount)."""
    folder = tmp_path / "state"
    folder.mkdir()
    wav = tmp_path / "speech.wav"
    env = dict(os.environ, FAULT=fault, DIR=str(folder), WAV=str(wav), PYTHON=sys.executable)
    # root mounts in a new mount namespace; anyone else in a user namespace of their own
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", *as_root, "sh", "-c", _MOUNT_AND_RUN],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "-> HELLO" in result.stdout
    # speech still works: the word was spoken into the WAV despite the transcript
    reference = synthesize_wav("HELLO", tmp_path / "reference.wav")
    assert wav_duration(wav) > wav_duration(reference)
    # loud: the path and the cause, and the unwritten word itself reaches the log
    err = result.stderr
    path = f"{folder}/transcript.txt"
    assert f"cannot write the transcript {path}: {reason}" in err
    kept = err[err.index("only in this log") :]
    assert "\tHELLO" in kept
    assert "Traceback" not in err
    assert not any(f.name == "transcript.txt" for f in folder.iterdir())  # host side untouched


def test_transcript_failing_mid_run_shows_in_status_and_loses_nothing_when_it_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the transcript folder should be (a vanished mount)\n")
    config = make_config(
        tmp_path,
        transcript={"path": str(blocker / "transcript.txt")},
        speech={"letter_feedback": "none"},
    )
    sink = WavFileSink(tmp_path / "speech.wav")
    csv_path = repeated_replay_csv(tmp_path / "two.csv", repeats=2)
    statuses: list[str] = []
    daemon: Daemon

    def on_event(event) -> None:
        if event.kind == "word" and not statuses:
            statuses.append(daemon.status_text(0.0))
            blocker.unlink()  # the storage is back before the second word

    daemon = Daemon(
        config,
        source=LandmarkReplaySource(csv_path, realtime=False),
        player=sink,
        on_event=on_event,
    )
    with caplog.at_level(logging.WARNING):
        summary = daemon.run()
    assert summary.words == ["HELLO", "HELLO"]
    assert "transcript failing (1 words held)" in statuses[0]
    assert transcript_words(config.transcript_path()) == ["HELLO", "HELLO"]  # in order
    assert sink.utterances == 2  # both words spoken, the first while it could not be written
    errors = error_records(caplog)
    assert len(errors) == 1 and str(blocker / "transcript.txt") in errors[0].getMessage()
    assert any("writable again" in r.getMessage() for r in caplog.records)


# -- the classifier model is broken ---------------------------------------------------------------
def _truncated(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "letters_int8.tflite"
    path.write_bytes(SHIPPED_MODEL.read_bytes()[:size])
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated, checksum on", "sha256 mismatch"),
        ("truncated header", "not a TFLite model"),
        ("truncated body", "LiteRT cannot load the model"),
        ("wrong rank", "input shape (1, 64), expected (1, steps, channels)"),
        ("wrong channels", "takes 63 values per time step, the features give 67"),
    ],
)
def test_a_broken_model_refuses_to_start_with_one_line_naming_it(
    tmp_path: Path, case: str, expected: str, capsys, monkeypatch, restore_logging
) -> None:
    sums = ""
    if case == "truncated, checksum on":
        model = _truncated(tmp_path, SHIPPED_MODEL.stat().st_size // 2)
        sums = str(tmp_path / "SHA256SUMS")
        shutil.copy(REPO_ROOT / "models" / "SHA256SUMS", sums)  # the shipped, correct sums
    elif case == "truncated header":
        model = _truncated(tmp_path, 6)
    elif case == "truncated body":
        model = _truncated(tmp_path, SHIPPED_MODEL.stat().st_size // 2)
    elif case == "wrong rank":
        model = FAULT_MODELS / "wrong_rank.tflite"
    else:
        model = FAULT_MODELS / "wrong_channels.tflite"
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    transcript = tmp_path / "transcript.txt"
    code = cli.main(
        [
            "run",
            "--allow-root",
            "--set",
            f"classifier.model={model}",
            "--set",
            f"classifier.checksums={sums}",
            "--set",
            f"camera.source=replay:{DEMO_CSV}",
            "--set",
            "camera.realtime=false",
            "--set",
            "speech.enabled=false",
            "--set",
            f"transcript.path={transcript}",
        ]
    )
    err = capsys.readouterr().err
    notify.close()
    messages = notify.messages()
    assert code == 1
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert str(model) in errors[0] and expected in errors[0]
    assert "Traceback" not in err
    assert not any(m.startswith("READY=1") for m in messages)  # refused before starting
    assert not transcript.exists()


# -- NaN and infinite landmarks ------------------------------------------------------------------
class NonFiniteAsNoHand:
    """A replay whose non-finite landmark frames arrive as 'no hand' instead, at the same time."""

    def __init__(self, inner: LandmarkReplaySource) -> None:
        self.inner = inner
        self.name, self.live, self.paced = inner.name, inner.live, inner.paced

    def open(self) -> None:
        self.inner.open()

    def read(self):
        frame = self.inner.read()
        obs = frame.observation if frame is not None else None
        if obs is not None and obs.landmarks is not None and not np.isfinite(obs.landmarks).all():
            frame.observation = dataclasses.replace(obs, landmarks=None)
        return frame

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("case", ["labels reversed", "hand model with a byte appended"])
def test_an_altered_label_list_or_hand_model_refuses_to_start_with_one_line_naming_it(
    tmp_path: Path, case: str, capsys, restore_logging
) -> None:
    """Both would otherwise run: reversed labels of the same length spell nonsense (TWPPM for
    HELLO), and MediaPipe loads a bundle with a byte appended. SHA256SUMS guards them."""
    models = REPO_ROOT / "models"
    argv = [
        "run",
        "--allow-root",
        "--set",
        "speech.enabled=false",
        "--set",
        "camera.realtime=false",
    ]
    argv += ["--set", f"transcript.path={tmp_path / 'transcript.txt'}"]
    if case == "labels reversed":
        altered = tmp_path / "labels.txt"
        altered.write_text("\n".join(reversed((models / "labels.txt").read_text().split())))
        argv += [
            "--set",
            f"classifier.labels={altered}",
            "--set",
            f"camera.source=replay:{DEMO_CSV}",
        ]
    else:
        altered = tmp_path / "hand_landmarker.task"
        altered.write_bytes((models / "hand_landmarker.task").read_bytes() + b"\0")
        argv += ["--set", f"landmarks.model={altered}", "--set", f"camera.source={DEMO_VIDEO}"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 1, err
    assert len(errors) == 1 and "Traceback" not in err, err
    assert f"{altered}: sha256 mismatch: expected" in errors[0]
    assert str(models / "SHA256SUMS") in errors[0]
    assert not (tmp_path / "transcript.txt").exists()  # refused before anything was spelled


def test_nan_and_infinite_landmarks_in_a_replay_count_exactly_as_no_hand(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Landmark rows with nan, inf, -inf and a value too large for float32 go through the real
    replay reader, ring buffer, classifier and decoder: the run decodes exactly what it decodes
    when those frames simply had no hand (MediaPipe found none), and never raises."""
    poison = {19: "nan", 48: "inf", 80: "-inf", 116: "1e39", 153: "nan"}
    edited: list[int] = []

    def edit(_: int, row: dict[str, str]) -> None:
        value = poison.get(int(row["frame"]))
        if value is None:
            return
        edited.append(int(row["frame"]))
        if row["frame"] == "19":  # every coordinate NaN, as a broken tracker would give
            columns = [key for key in row if key[0] in "xyz" and key[1:].isdigit()]
        else:
            columns = ["x0", "y8", "z20"]
        for column in columns:
            row[column] = value

    def run(csv_path: Path, folder: Path, wrap=lambda source: source):
        folder.mkdir()
        config = make_config(folder, speech={"enabled": False})
        source = wrap(LandmarkReplaySource(csv_path, realtime=False))
        daemon = Daemon(config, source=source, tracker=NO_TRACKER)
        return daemon, daemon.run(), transcript_words(config.transcript_path())

    poisoned = repeated_replay_csv(tmp_path / "poisoned.csv", repeats=1, edit=edit)
    with caplog.at_level(logging.WARNING):
        daemon, summary, written = run(poisoned, tmp_path / "poisoned")
    assert sorted(edited) == sorted(poison)
    assert daemon.pipeline.ring.invalid_frames == len(poison)
    assert sum("unusable hand landmarks" in r.getMessage() for r in caplog.records) == 1

    # the same stream with those frames as plain "no hand" (same times): identical decoding
    _, expected, expected_written = run(poisoned, tmp_path / "no-hand", NonFiniteAsNoHand)
    assert summary.frames == expected.frames and summary.hands == expected.hands
    assert summary.letters == expected.letters and len(summary.letters) >= 5
    assert summary.words == expected.words and summary.words
    assert written == expected_written == summary.words  # every completed word written


def test_a_tracker_that_misses_any_single_frame_does_not_change_the_word() -> None:
    """MediaPipe loses the hand now and then (and NaN, black or broken frames become "no hand"):
    one missed frame anywhere in the recorded HELLO, in a hold, a transition or right after a
    letter was accepted, must neither drop a letter nor double one."""
    from edge.config import load_config
    from edge.observation import HandObservation
    from edge.pipeline import Pipeline, load_classifier

    config = load_config()
    classifier = load_classifier(config)
    source = LandmarkReplaySource(DEMO_CSV, realtime=False)
    source.open()
    observations = []
    while (frame := source.read()) is not None:
        observations.append(frame.observation)
    source.close()

    def word_with_miss(miss: int | None) -> str:
        pipeline = Pipeline(config, classifier)
        events = []
        for i, obs in enumerate(observations):
            if i == miss:
                obs = HandObservation(t=obs.t, landmarks=None, aspect=obs.aspect)
            events += pipeline.process(obs)
        events += pipeline.finish()
        return " ".join(e.text for e in events if e.kind == "word")

    assert word_with_miss(None) == "HELLO"
    hand_frames = [i for i, obs in enumerate(observations) if obs.has_hand]
    changed = {i: w for i in hand_frames if (w := word_with_miss(i)) != "HELLO"}
    assert len(hand_frames) > 150
    assert changed == {}


# -- the landmark stage is broken for good -------------------------------------------------------
class BrokenTracker:
    """A landmark stage broken for good: every frame raises, like a MediaPipe whose graph died."""

    def detect(self, image, t):
        raise RuntimeError("CalculatorGraph::Run() failed: XNNPACK delegate error")


def test_a_landmark_stage_that_always_fails_keeps_the_loop_alive_and_shows_in_status(
    tmp_path: Path,
) -> None:
    """Every frame fails in the landmark stage (logged once a minute only): the loop keeps
    pinging the watchdog, so systemd does not restart into the same fault, and STATUS= says what
    is wrong, so `systemctl status` shows why no letter ever comes."""
    config = make_config(tmp_path, speech={"enabled": False}, service={"status_interval_s": 0.1})
    notify = NotifySocket(tmp_path / "notify.sock")
    notifier = WatchedNotifier(str(notify.path), watchdog_usec=200_000)
    source = OpenCVSource(DEMO_VIDEO, realtime=True)  # paced like a camera
    daemon = Daemon(config, source=source, tracker=BrokenTracker(), notifier=notifier)
    seen: list[bool] = []

    def stop_when_shown() -> None:
        seen.append(notifier.wait_for_status("landmark stage failed", 0, timeout=60))
        daemon.request_stop()

    watcher = threading.Thread(target=stop_when_shown, daemon=True)
    watcher.start()
    summary = daemon.run()
    watcher.join(5)
    notify.close()
    messages = notify.messages()
    assert seen == [True]
    assert summary.frames > 0 and summary.hands == 0
    assert "WATCHDOG=1" in messages
    shown = next(s for s in notifier.statuses if "landmark stage failed" in s)
    assert re.search(r"landmark stage failed on \d+ of \d+ frames \(RuntimeError", shown), shown
