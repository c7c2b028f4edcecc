"""The daemon end to end on real inputs: the demo video through OpenCV and MediaPipe, and the
recorded landmark replay, through the shipped INT8 classifier into real espeak-ng WAVs, the
transcript file, a gpiozero MockFactory button and a real AF_UNIX sd_notify socket.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fault_sources import FlakyCamera
from gpiozero.pins.mock import MockFactory
from reliability_helpers import DaemonProcess, NotifySocket, repeated_replay_csv

from edge import cli
from edge.config import REPO_ROOT, Config, load_config
from edge.daemon import Daemon
from edge.sdnotify import SystemdNotifier
from edge.sources import LandmarkReplaySource, OpenCVSource
from edge.speech import WavFileSink, read_wav, synthesize_wav

DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
SIGN2SOUND = Path(sys.executable).parent / "sign2sound"
PIN = 17


def loudness(path: Path) -> tuple[float, float]:
    """(seconds, RMS of the non-silent part in int16 units) of a WAV."""
    samples, rate = read_wav(path)
    samples = samples.astype(np.float64)
    voiced = samples[np.abs(samples) > 200]
    rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0
    return len(samples) / rate, rms


def word_seconds(text: str, tmp_path: Path) -> float:
    """How long espeak-ng takes to say `text` with the default voice (what a WAV must exceed)."""
    out = tmp_path / f"ref-{text}.wav"
    speech = load_config().speech
    synthesize_wav(text, out, speech.voice, speech.rate_wpm, speech.volume)
    samples, rate = read_wav(out)
    return len(samples) / rate


def make_config(tmp_path: Path, **sections: dict) -> Config:
    config = load_config()
    changes = {"transcript": {"path": str(tmp_path / "transcript.txt")}, **sections}
    for name, values in changes.items():
        config = dataclasses.replace(
            config, **{name: dataclasses.replace(getattr(config, name), **values)}
        )
    return config


def transcript_words(config: Config) -> list[str]:
    path = config.transcript_path()
    if not path.exists():
        return []
    return [line.split("\t")[1] for line in path.read_text().splitlines()]


def two_words_csv(tmp_path: Path, gap_frames: int = 30) -> Path:
    """The recorded HELLO twice, the second starting `gap_frames` (2 s) after the first ends:
    the first word can only end because the hand is gone, the second at the end of the replay."""
    return repeated_replay_csv(tmp_path / "two_words.csv", 2, gap_frames=gap_frames)


# -- the whole thing, as a user runs it -------------------------------------------------------
def test_demo_spells_and_speaks_hello_from_the_video(tmp_path: Path) -> None:
    """README's command: the bundled clip through OpenCV, MediaPipe, LiteRT, decoder, espeak-ng."""
    out = tmp_path / "demo.wav"
    result = subprocess.run(
        [str(SIGN2SOUND), "demo", "--wav", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "H E L L O -> HELLO" in result.stdout
    seconds, rms = loudness(out)
    # five letter beeps and the spoken word, each followed by a pause
    assert seconds > word_seconds("HELLO", tmp_path) + 5 * 0.3
    assert rms > 1000  # audible speech, not near-silence
    assert not (tmp_path / "transcript.txt").exists()  # the demo's transcript is temporary


def test_replay_spells_two_words_ending_on_no_hand(tmp_path: Path) -> None:
    config = make_config(tmp_path, speech={"letter_feedback": "none"})
    sink = WavFileSink(tmp_path / "speech.wav")
    events = []
    source = LandmarkReplaySource(two_words_csv(tmp_path), realtime=False)
    daemon = Daemon(config, source=source, player=sink, on_event=events.append)
    summary = daemon.run()
    assert summary.words == ["HELLO", "HELLO"]
    assert summary.letters == list("HELLOHELLO")  # the repeated L, twice
    first_word = next(e for e in events if e.kind == "word")
    frames = [int(line.split(",")[-3]) for line in DEMO_CSV.read_text().splitlines()[1:]]
    second_start = (frames[-1] + 30 + frames[0]) / 15  # the second word's first hand frame
    assert first_word.t < second_start  # ended by the hand being gone, not by the stream
    assert transcript_words(config) == ["HELLO", "HELLO"]
    seconds, rms = loudness(sink.path)
    assert sink.utterances == 2
    assert seconds > 2 * word_seconds("HELLO", tmp_path)
    assert rms > 1000


# -- the button ---------------------------------------------------------------------------------
def test_button_press_clears_and_hold_repeats(tmp_path: Path) -> None:
    factory = MockFactory()
    config = make_config(
        tmp_path,
        gpio={"pin": PIN, "hold_s": 0.2, "bounce_s": 0.0},
        speech={"letter_feedback": "none"},
    )
    sink = WavFileSink(tmp_path / "speech.wav")
    source = LandmarkReplaySource(two_words_csv(tmp_path), realtime=False)
    daemon: Daemon

    def wait_for_command(before: int) -> None:
        deadline = time.monotonic() + 10
        while daemon.commands.qsize() <= before and time.monotonic() < deadline:
            time.sleep(0.01)

    pressed = []

    def on_event(event) -> None:
        pin = factory.pin(PIN)
        if event.kind == "letter" and daemon.pipeline.decoder.current_word == "HE" and not pressed:
            pressed.append(event.t)
            pin.drive_low()  # pressed (wired to ground)
            pin.drive_high()  # released well before hold_s: a press
            wait_for_command(0)
        elif event.kind == "word" and event.text == "LLO":
            pin.drive_low()
            wait_for_command(0)  # the hold fires on gpiozero's hold thread after hold_s
            pin.drive_high()

    daemon = Daemon(config, source=source, player=sink, pin_factory=factory, on_event=on_event)
    summary = daemon.run()
    factory.reset()
    assert summary.cleared == ["HE"]
    assert summary.words == ["LLO", "HELLO"]
    assert summary.repeated == ["LLO"]
    assert transcript_words(config) == ["LLO", "HELLO"]  # a cleared word is not a word
    assert sink.utterances == 3  # LLO, LLO again on the hold, HELLO


# -- faults ---------------------------------------------------------------------------------------
def test_a_camera_that_yields_nothing_keeps_retrying_and_says_so(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        camera={"retry_initial_s": 0.05, "retry_max_s": 0.2},
        service={"status_interval_s": 0.1},
    )
    notify = NotifySocket(tmp_path / "notify.sock")
    notifier = SystemdNotifier(str(notify.path))
    daemon = Daemon(
        config, source=OpenCVSource(97), tracker=object(), notifier=notifier, max_seconds=1.5
    )
    summary = daemon.run()
    notify.close()  # reads what is still queued
    messages = notify.messages()
    assert summary.frames == 0
    assert summary.camera_outages == 1
    # up (READY once, saying why it does not listen) rather than failing systemd's start timeout
    assert summary.ready
    assert messages.count("READY=1\nSTATUS=camera not available, retrying") == 1
    assert any(
        "camera lost, retrying: camera device 97: cannot open the device" in m for m in messages
    )
    assert messages[-1] == "STOPPING=1"
    assert daemon.capture.stats.reopen_attempts >= 3


def test_a_camera_lost_mid_word_comes_back_and_the_word_is_kept(tmp_path: Path, caplog) -> None:
    config = make_config(
        tmp_path,
        camera={"retry_initial_s": 0.1, "retry_max_s": 0.2},
        service={"status_interval_s": 0.1},
    )
    camera = FlakyCamera(
        LandmarkReplaySource(DEMO_CSV, realtime=False), fail_after=70, failed_opens=3
    )
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = Daemon(
        config,
        source=camera,
        player=WavFileSink(tmp_path / "speech.wav"),
        notifier=SystemdNotifier(str(notify.path)),
    )
    with caplog.at_level("INFO"):
        summary = daemon.run()
    notify.close()  # reads what is still queued
    messages = notify.messages()
    assert camera.open_failures == 3 and summary.camera_outages == 1
    # STATUS during the outage: the camera is being retried and the word in progress is kept
    during = [m for m in messages if "camera lost, retrying: flaky camera" in m]
    assert during and all("word: -" not in m for m in during)
    assert summary.words == ["HELLO"]
    assert transcript_words(config) == ["HELLO"]
    outage_lines = [
        r for r in caplog.records if r.name == "edge.sources" and r.levelname == "ERROR"
    ]
    assert len(outage_lines) == 1  # one line per outage, not one per attempt


def test_a_model_whose_checksum_does_not_match_refuses_to_start(tmp_path: Path, capsys) -> None:
    model = tmp_path / "letters_int8.tflite"
    shutil.copy(REPO_ROOT / "models" / "letters_int8.tflite", model)
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'0' * 64}  letters_int8.tflite\n")
    code = cli.main(
        [
            "run",
            "--allow-root",
            "--set",
            f"classifier.model={model}",
            "--set",
            f"classifier.checksums={sums}",
            "--set",
            f"transcript.path={tmp_path / 'transcript.txt'}",
            "--set",
            f"camera.source=replay:{DEMO_CSV}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "letters_int8.tflite" in err and "sha256" in err.lower()
    assert "Traceback" not in err
    assert not (tmp_path / "transcript.txt").exists()  # refused before doing anything


def test_a_wrong_config_key_is_named(tmp_path: Path, capsys) -> None:
    assert cli.main(["run", "--set", "camera.sauce=0"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'camera.sauce'" in err and "Traceback" not in err
    bad = tmp_path / "config.yaml"
    bad.write_text("decoder:\n  treshold: 0.8\n")
    assert cli.main(["run", "--config", str(bad)]) == 2
    assert "unknown key 'decoder.treshold'" in capsys.readouterr().err


# -- the service ----------------------------------------------------------------------------------
def test_sigterm_stops_cleanly_and_keeps_the_word_in_progress(tmp_path: Path) -> None:
    """`sign2sound run` as systemd starts it: READY after the first frame, WATCHDOG, STATUS,
    then SIGTERM mid-word: the letters spelled so far still reach the transcript."""
    notify = NotifySocket(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="400000")
    transcript = tmp_path / "transcript.txt"
    proc = subprocess.Popen(
        [
            str(SIGN2SOUND),
            "run",
            "--allow-root",
            "--set",
            f"camera.source=replay:{DEMO_CSV}",
            "--set",
            f"transcript.path={transcript}",
            "--set",
            "speech.enabled=false",
            "--set",
            "service.status_interval_s=0.2",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    log_lines = []
    stop = threading.Event()

    def read_log() -> None:
        for line in proc.stderr:
            log_lines.append(line)
            if "letter E" in line:
                stop.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert stop.wait(60), "".join(log_lines)[-2000:]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    notify.close()  # reads what is still queued
    messages = notify.messages()
    text = "".join(log_lines)
    assert code == 0, text[-2000:]
    assert "stopping (SIGTERM)" in text
    assert messages.count("READY=1\nSTATUS=listening") == 1
    assert "WATCHDOG=1" in messages
    assert any(m.startswith("STATUS=word: ") for m in messages)
    assert messages[-1] == "STOPPING=1"
    words = [line.split("\t")[1] for line in transcript.read_text().splitlines()]
    assert len(words) == 1 and words[0].startswith("HE")  # completed on stop, not dropped


@pytest.mark.parametrize("missing", ["model", "labels"])
def test_missing_model_files_are_named(tmp_path: Path, missing: str, capsys) -> None:
    key = {"model": "classifier.model", "labels": "classifier.labels"}[missing]
    code = cli.main(
        ["run", "--allow-root", "--set", f"{key}={tmp_path / 'gone'}", "--set",
         "classifier.checksums="]
    )  # fmt: skip
    assert code == 1
    assert str(tmp_path / "gone") in capsys.readouterr().err


class RaisingTracker:
    """The real HandTracker, made to raise on chosen frames (a MediaPipe graph error)."""

    def __init__(self, tracker, raise_at_t: set[float]) -> None:
        self.tracker = tracker
        self.raise_at_t = raise_at_t

    def detect(self, image, t):
        if round(t, 3) in self.raise_at_t:
            raise RuntimeError("CalculatorGraph::Run() failed")
        return self.tracker.detect(image, t)


def test_bad_frames_and_a_failing_landmark_stage_do_not_stop_the_word(tmp_path: Path) -> None:
    """The demo video through real MediaPipe with black, truncated, wrong-sized and missing
    frames and a landmark stage that raises: each costs one frame, the word still comes out."""
    from fault_sources import BadFrames

    from edge.landmarks import HandTracker

    faults = {2: "black", 3: "truncated", 4: "wrong_size", 5: "none", 7: "wrong_type",
              45: "black", 70: "truncated", 150: "wrong_size"}  # fmt: skip
    config = make_config(tmp_path)
    source = BadFrames(OpenCVSource(REPO_ROOT / "models" / "demo" / "hello.mp4", realtime=False),
                       faults)  # fmt: skip
    with HandTracker.from_config(config) as real:
        tracker = RaisingTracker(real, {round(i / 15, 3) for i in (1, 100)})
        daemon = Daemon(
            config, source=source, tracker=tracker, player=WavFileSink(tmp_path / "s.wav")
        )
        summary = daemon.run()
    counters = daemon.pipeline.counters
    assert counters.bad_frames == 6  # truncated x2, missing, float image, another size x2
    assert counters.landmark_errors == 2
    assert summary.frames == 195
    assert summary.words == ["HELLO"]
    assert transcript_words(config) == ["HELLO"]


def _words_logged(lines: list[str]) -> list[str]:
    """The words the daemon completed, in order, from its `word: X` log lines."""
    return [
        line.split("edge.daemon: word: ", 1)[1] for line in lines if "edge.daemon: word: " in line
    ]


def test_sighup_moves_every_held_word_into_the_new_transcript(tmp_path: Path) -> None:
    """A real SIGHUP to a real daemon whose transcript cannot be written (/dev/full: every write
    fails, even for root): the words held in memory go first, in order, into the transcript the
    new config names, and the reloaded decoder settings apply to the words after it."""
    replay = repeated_replay_csv(tmp_path / "words.csv", 60)
    cfg = tmp_path / "config.yaml"
    common = f"camera:\n  source: replay:{replay}\n  realtime: false\nspeech:\n  enabled: false\n"
    # word correction off: a word cut at 3 letters (HEL) would be corrected to a listed word
    common += "lexicon:\n  enabled: false\n"
    cfg.write_text(common + "transcript:\n  path: /dev/full\n")
    new_path = tmp_path / "state" / "transcript.txt"
    with DaemonProcess(["--config", str(cfg)], cwd=tmp_path) as daemon:
        daemon.wait_for("edge.daemon: word: ", count=2)
        cfg.write_text(
            common + f"transcript:\n  path: {new_path}\ndecoder:\n  max_word_length: 3\n"
        )
        daemon.send(signal.SIGHUP)
        reloaded = daemon.wait_for("reload: configuration re-read")
        code = daemon.finish()
    lines, log = daemon.lines, daemon.log
    assert code == 0, log[-3000:]
    held, after = _words_logged(lines[:reloaded]), _words_logged(lines[reloaded:])
    assert len(held) >= 2 and set(held) == {"HELLO"}, log[-3000:]
    assert "decoder.max_word_length, transcript.path" in lines[reloaded]
    assert f"transcript moved to {new_path}: {len(held)} held-back word(s) written" in log
    assert after and all(len(word) <= 3 for word in after)  # the new decoder setting
    written = [line.split("\t")[1] for line in new_path.read_text().splitlines()]
    assert written == held + after  # every word, in order, nothing twice
    assert "could not be written" not in log


def test_sighup_applies_debug_frames_and_log_level_at_once_and_names_the_rest(
    tmp_path: Path,
) -> None:
    """A real SIGHUP to a real daemon reading the demo video through MediaPipe with
    service.save_debug_frames on: a broken file first (kept running, old config kept), then a
    config that turns debug frames off, the log level up and changes camera.fps: from the reload
    on no frame is written, no INFO line is logged, and camera.fps is named as needing a restart.
    """
    video = REPO_ROOT / "models" / "demo" / "hello.mp4"
    cfg = tmp_path / "config.yaml"
    common = (
        f"camera:\n  source: {video}\nspeech:\n  enabled: false\n"
        f"transcript:\n  path: {tmp_path / 'transcript.txt'}\n"
    )
    cfg.write_text(common + "service:\n  save_debug_frames: true\n")
    with DaemonProcess(["--config", str(cfg)], cwd=tmp_path) as daemon:
        daemon.wait_for("edge.daemon: letter ")
        cfg.write_text("decoder: [\n")
        daemon.send(signal.SIGHUP)
        daemon.wait_for("keeping the running configuration")
        cfg.write_text(
            common.replace("camera:\n", "camera:\n  fps: 15\n")
            + "service:\n  save_debug_frames: false\n  log_level: WARNING\n"
        )
        daemon.send(signal.SIGHUP)
        reloaded = daemon.wait_for("reload: configuration re-read")
        code = daemon.finish()
    lines, log = daemon.lines, daemon.log
    assert code == 0, log[-3000:]
    before = [line.split("edge.daemon: letter ")[1][0] for line in lines[:reloaded]
              if "edge.daemon: letter " in line]  # fmt: skip
    frames = sorted(p.name for p in (tmp_path / "debug-frames").iterdir())
    assert [name[-5] for name in frames] == before  # one per letter before the reload, no more
    assert "service.log_level, service.save_debug_frames" in lines[reloaded]
    after = lines[reloaded + 1 :]
    assert any("changes to camera.fps take effect after a restart" in line for line in after)
    assert not any(" INFO " in line for line in after), "\n".join(after)
    words = transcript_words(make_config(tmp_path))
    assert words == ["HELLO"] and len(before) < 5  # letters were accepted after the reload too


def test_every_live_reload_key_is_a_real_section_or_key() -> None:
    """A renamed key must not silently fall out of what a reload applies."""
    from edge.config import SECTIONS
    from edge.daemon import LIVE_KEYS, changed_keys

    for entry in LIVE_KEYS:
        section, _, key = entry.partition(".")
        assert section in SECTIONS, entry
        assert not key or key in {f.name for f in dataclasses.fields(SECTIONS[section])}, entry
    new = make_config(Path("/x"), camera={"fps": 15.0}, service={"log_level": "DEBUG"})
    assert changed_keys(make_config(Path("/x")), new) == ["camera.fps", "service.log_level"]


class VideoWithRecordedHands:
    """The demo video's real frames, each carrying the recorded observation of that frame (so
    the pipeline skips MediaPipe): frames with images, without MediaPipe's cost."""

    live = False
    paced = False
    name = "demo video with recorded hands"

    def __init__(self) -> None:
        self.video = OpenCVSource(REPO_ROOT / "models" / "demo" / "hello.mp4", realtime=False)
        self.replay = LandmarkReplaySource(DEMO_CSV, realtime=False)

    def open(self) -> None:
        self.video.open()
        self.replay.open()

    def read(self):
        frame, recorded = self.video.read(), self.replay.read()
        if frame is None or recorded is None:
            return None
        return dataclasses.replace(frame, observation=recorded.observation)

    def close(self) -> None:
        self.video.close()
        self.replay.close()


@pytest.mark.parametrize("save", [False, True])
def test_no_frame_is_written_unless_debug_frames_are_asked_for(tmp_path: Path, save: bool):
    config = make_config(tmp_path, service={"save_debug_frames": save})
    daemon = Daemon(
        config,
        source=VideoWithRecordedHands(),
        tracker=object(),
        player=WavFileSink(tmp_path / "s.wav"),
    )
    assert daemon.run().words == ["HELLO"]
    images = sorted(p.name for p in tmp_path.rglob("*") if p.suffix in (".jpg", ".png", ".bmp"))
    if save:
        assert [name[-5] for name in images] == list("HELLO")  # time-stamped, one per letter
    else:
        assert images == []


def test_short_soak_every_word_reaches_the_transcript_and_nothing_grows(tmp_path: Path) -> None:
    """Thirty HELLOs replayed as fast as possible (about 6 minutes of signing): every decoded
    word is in the transcript, the speech queue stayed within its bound and memory is flat."""
    import psutil

    copies = 30
    lines = DEMO_CSV.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    columns = header.split(",")
    i_frame, i_t = columns.index("frame"), columns.index("t_ms")
    span = int(rows[-1].split(",")[i_frame]) + 30  # each copy, then 2 s without a hand
    out = [header]
    for copy in range(copies):
        for row in rows:
            cells = row.split(",")
            frame = int(cells[i_frame]) + copy * span
            cells[i_frame], cells[i_t] = str(frame), str(round(frame * 1000 / 15))
            out.append(",".join(cells))
    csv_path = tmp_path / "soak.csv"
    csv_path.write_text("\n".join(out) + "\n")

    config = make_config(tmp_path, speech={"queue_size": 4})
    process = psutil.Process()
    rss = []

    def on_event(event) -> None:
        if event.kind == "word":
            rss.append(process.memory_info().rss)

    sink = WavFileSink(tmp_path / "speech.wav")
    daemon = Daemon(
        config,
        source=LandmarkReplaySource(csv_path, realtime=False),
        player=sink,
        on_event=on_event,
    )
    summary = daemon.run()
    assert summary.words == ["HELLO"] * copies
    assert transcript_words(config) == summary.words
    assert daemon.speaker.queue_high_water <= 4
    assert daemon.speaker.spoken + daemon.speaker.dropped + daemon.speaker.failed == (
        copies * 6  # five letter beeps and one word each
    )
    assert summary.dropped_frames == 0 and summary.frames == copies * span - 30 + 1
    growth_mb = (rss[-1] - rss[5]) / 2**20  # after warm-up
    assert growth_mb < 10, f"RSS grew {growth_mb:.1f} MB over {copies - 5} words"


def test_a_missing_video_or_replay_is_named_before_anything_starts(tmp_path: Path, capsys):
    for source, message in [
        (tmp_path / "gone.mp4", "gone.mp4: no such file"),
        (f"replay:{tmp_path / 'gone.csv'}", "gone.csv: no such file"),
    ]:
        code = cli.main(["run", "--allow-root", "--set", f"camera.source={source}"])
        err = capsys.readouterr().err
        assert code == 1 and message in err and "Traceback" not in err


def test_the_run_summary_keeps_a_bounded_history_and_counts_everything(monkeypatch) -> None:
    """A box runs for months: the summary keeps the latest entries only, but counts them all."""
    from edge.daemon import RecentHistory, RunSummary

    monkeypatch.setattr(RecentHistory, "limit", 3)
    summary = RunSummary()
    for word in ["ONE", "TWO", "THREE", "FOUR", "FIVE"]:
        summary.words.append(word)
    assert summary.words == ["THREE", "FOUR", "FIVE"]
    assert summary.words.total == 5
    assert summary.letters == [] and summary.letters.total == 0
