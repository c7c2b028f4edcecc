"""Speech with the real espeak-ng and the real aplay; the WAVs are measured, not trusted.

This machine has no sound card. `aplay -D null` plays into ALSA's null device (exit 0: the
success path of the real player), and a device name that does not exist makes aplay fail the way
a box without its USB speaker does.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from edge.config import SpeechConfig
from edge.speech import (
    SAMPLE_RATE,
    AplayPlayer,
    PlaybackError,
    Speaker,
    SpeechError,
    WavFileSink,
    read_wav,
    synthesize_wav,
    wav_duration,
    write_beep,
)

MISSING_DEVICE = "sign2sound_no_such_device"


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def voiced_seconds(samples: np.ndarray, rate: int, level: float = 300.0) -> float:
    """Seconds of 10 ms blocks louder than `level` (RMS, int16 scale)."""
    block = rate // 100
    n = len(samples) // block
    blocks = samples[: n * block].astype(np.float64).reshape(n, block)
    return float((np.sqrt((blocks**2).mean(axis=1)) > level).sum()) / 100.0


def config(**changes: object) -> SpeechConfig:
    return dataclasses.replace(SpeechConfig(), **changes)


class GatedSink(WavFileSink):
    """The real WAV sink, but each play waits for the test to open the gate (makes queue
    overflow deterministic without timing)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.started = threading.Event()

    def play(self, wav: Path) -> None:
        self.started.set()
        self.gate.wait(30)
        super().play(wav)


def test_espeak_writes_real_speech_whose_length_follows_the_rate(tmp_path: Path) -> None:
    slow = synthesize_wav("hello world", tmp_path / "slow.wav", rate_wpm=100)
    fast = synthesize_wav("hello world", tmp_path / "fast.wav", rate_wpm=300)
    samples, rate = read_wav(slow)
    assert rate == SAMPLE_RATE
    assert 0.6 < wav_duration(slow) < 4.0
    assert rms(samples) > 1000  # clearly audible, not a silent file
    assert voiced_seconds(samples, rate) > 0.4
    assert wav_duration(fast) < 0.75 * wav_duration(slow)


def test_espeak_volume_changes_loudness(tmp_path: Path) -> None:
    quiet, _ = read_wav(synthesize_wav("testing", tmp_path / "q.wav", volume=20))
    loud, _ = read_wav(synthesize_wav("testing", tmp_path / "l.wav", volume=150))
    assert rms(loud) > 3 * rms(quiet)


def test_text_that_looks_like_an_option_is_spoken_not_parsed(tmp_path: Path) -> None:
    wav = synthesize_wav("-w hello", tmp_path / "dash.wav")
    assert not (Path.cwd() / "hello").exists()
    assert voiced_seconds(*read_wav(wav)) > 0.2


def test_unknown_voice_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="voice 'xx-nowhere'"):
        synthesize_wav("hello", tmp_path / "x.wav", voice="xx-nowhere")


def test_beep_is_short_and_audible(tmp_path: Path) -> None:
    samples, rate = read_wav(write_beep(tmp_path / "beep.wav"))
    assert len(samples) / rate == pytest.approx(0.08, abs=0.001)
    assert 0.3 * 32767 < np.abs(samples).max() <= 0.41 * 32767
    assert abs(int(samples[0])) < 200 and abs(int(samples[-1])) < 200  # faded: no click


def test_speaker_into_a_wav_file_speaks_every_word_in_order(tmp_path: Path) -> None:
    out = tmp_path / "demo" / "out.wav"
    speaker = Speaker(config(letter_feedback="none"), player=WavFileSink(out))
    for word in ("HELLO", "WORLD"):
        assert speaker.say(word)
    assert speaker.close(drain=True, timeout=60.0)
    assert (speaker.spoken, speaker.failed, speaker.dropped) == (2, 0, 0)

    samples, rate = read_wav(out)
    single = [
        wav_duration(synthesize_wav(w, tmp_path / f"{w}.wav", rate_wpm=150))
        for w in ("hello", "world")
    ]
    assert len(samples) / rate == pytest.approx(sum(single) + 0.3, abs=0.05)
    assert rms(samples) > 1000
    assert voiced_seconds(samples, rate) > 0.6
    assert not speaker.workdir.exists()  # temporary WAVs are cleaned up


def test_real_aplay_on_the_alsa_null_device_succeeds() -> None:
    speaker = Speaker(config(alsa_device="null", letter_feedback="beep"))
    assert isinstance(speaker.player, AplayPlayer)
    speaker.say("yes")
    speaker.letter_feedback("Y")
    assert speaker.close(timeout=60.0)
    assert (speaker.spoken, speaker.failed) == (2, 0)
    assert speaker.audio_ok


def test_missing_audio_device_is_logged_once_counted_and_never_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    speaker = Speaker(config(alsa_device=MISSING_DEVICE))
    with caplog.at_level(logging.DEBUG, logger="edge.speech"):
        for word in ("ONE", "TWO", "THREE"):
            speaker.say(word)
        assert speaker.wait_idle(60.0)
        assert (speaker.spoken, speaker.failed) == (0, 3)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1  # once per outage, not once per word
        assert MISSING_DEVICE in errors[0].getMessage()
        assert "exit code 1" in errors[0].getMessage()
        assert not speaker.audio_ok
        assert MISSING_DEVICE in (speaker.last_error or "")

        # the worker is still alive; when the device comes back, speech works again
        assert isinstance(speaker.player, AplayPlayer)
        speaker.player.device = "null"
        speaker.say("FOUR")
        assert speaker.wait_idle(60.0)
    assert (speaker.spoken, speaker.failed) == (1, 3)
    assert speaker.audio_ok
    assert "works again (3 utterance(s) failed" in caplog.text
    assert speaker.close()


def test_aplay_failure_names_the_device(tmp_path: Path) -> None:
    wav = write_beep(tmp_path / "b.wav")
    with pytest.raises(PlaybackError, match=f"aplay -D {MISSING_DEVICE} failed"):
        AplayPlayer(MISSING_DEVICE).play(wav)


def test_full_queue_drops_the_oldest_feedback_first_then_the_oldest_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = GatedSink(tmp_path / "q.wav")
    speaker = Speaker(config(queue_size=3, letter_feedback="beep"), player=sink)
    speaker.say("FIRST")
    assert sink.started.wait(30)  # the worker holds FIRST; the queue is empty again
    with caplog.at_level(logging.WARNING, logger="edge.speech"):
        speaker.say("A")
        speaker.letter_feedback("B")
        speaker.say("C")
        speaker.say("D")  # full: the beep goes, not the word A
        assert speaker.dropped == 1
        assert "dropped beep" in caplog.text
        speaker.say("E")  # full of words: the oldest word A goes
        assert speaker.dropped == 2
        assert "dropped word 'A'" in caplog.text
    assert speaker.queue_length == speaker.queue_high_water == 3
    sink.gate.set()
    assert speaker.close(drain=True, timeout=60.0)
    assert speaker.spoken == 4  # FIRST, C, D, E
    assert sink.utterances == 4


def test_close_without_drain_drops_what_is_queued_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = GatedSink(tmp_path / "d.wav")
    speaker = Speaker(config(letter_feedback="none"), player=sink)
    speaker.say("NOW")
    assert sink.started.wait(30)
    speaker.say("LATER")
    speaker.say("NEVER")
    with caplog.at_level(logging.WARNING, logger="edge.speech"):
        sink.gate.set()
        assert speaker.close(drain=False, timeout=60.0)
    assert "2 utterance(s) not spoken: LATER, NEVER" in caplog.text
    assert speaker.dropped == 2
    assert speaker.spoken == 1
    assert speaker.say("AFTER") is False  # closed


def test_close_gives_up_after_the_timeout_when_playback_hangs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = GatedSink(tmp_path / "h.wav")
    speaker = Speaker(config(letter_feedback="none"), player=sink, workdir=tmp_path / "work")
    speaker.say("STUCK")
    assert sink.started.wait(30)
    speaker.say("WAITING")
    with caplog.at_level(logging.WARNING, logger="edge.speech"):
        assert speaker.close(drain=True, timeout=0.05) is False
    assert "still busy" in caplog.text and "WAITING" in caplog.text
    sink.gate.set()  # let the worker thread finish


@pytest.mark.parametrize("mode", ["none", "beep", "letter"])
def test_letter_feedback_modes(tmp_path: Path, mode: str) -> None:
    out = tmp_path / f"{mode}.wav"
    speaker = Speaker(config(letter_feedback=mode), player=WavFileSink(out))
    queued = speaker.letter_feedback("L")
    speaker.letter_feedback("L")
    assert speaker.close(timeout=60.0)
    samples, rate = read_wav(out)
    if mode == "none":
        assert not queued and len(samples) == 0
    elif mode == "beep":
        assert queued and speaker.spoken == 2
        assert len(samples) / rate == pytest.approx(0.08 + 0.3 + 0.08, abs=0.002)
    else:
        assert queued and speaker.spoken == 2
        letter = wav_duration(synthesize_wav("L", tmp_path / "l.wav"))
        assert len(samples) / rate == pytest.approx(2 * letter + 0.3, abs=0.05)
        assert voiced_seconds(samples, rate) > 0.2


def test_disabled_speech_is_silent_and_starts_no_thread(tmp_path: Path) -> None:
    speaker = Speaker(config(enabled=False), player=WavFileSink(tmp_path / "off.wav"))
    assert speaker.say("HELLO") is False
    assert speaker.letter_feedback("H") is False
    assert speaker.close()
    assert read_wav(tmp_path / "off.wav")[0].size == 0


def test_a_reload_turns_speech_on_and_off_and_moves_aplay_to_the_new_device() -> None:
    speaker = Speaker(config(enabled=False, alsa_device=MISSING_DEVICE, letter_feedback="none"))
    assert speaker.say("OFF") is False
    speaker.reconfigure(config(enabled=True, alsa_device="null", letter_feedback="none"))
    assert speaker.say("ON")
    assert speaker.wait_idle(60.0)
    assert (speaker.spoken, speaker.failed) == (1, 0)  # played on the null device, not the old
    speaker.reconfigure(config(enabled=False, alsa_device="null"))
    assert speaker.say("OFF AGAIN") is False and speaker.letter_feedback("A") is False
    assert speaker.close(timeout=60.0)
    assert (speaker.spoken, speaker.failed, speaker.dropped) == (1, 0, 0)


def test_wav_sink_resamples_other_rates_and_names_an_unwritable_path(tmp_path: Path) -> None:
    beep16k = write_beep(tmp_path / "b16.wav", sample_rate=16000)
    sink = WavFileSink(tmp_path / "mix.wav")
    sink.play(beep16k)
    sink.close()
    samples, rate = read_wav(tmp_path / "mix.wav")
    assert rate == SAMPLE_RATE
    assert len(samples) / rate == pytest.approx(0.08, abs=0.001)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpeechError, match="cannot write the speech WAV"):
        WavFileSink(blocker / "out.wav")


def test_utterance_wavs_go_to_systemds_runtime_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    speaker = Speaker(config(enabled=False))
    assert speaker.workdir.parent == tmp_path
    speaker.close()
    assert not speaker.workdir.exists()

    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "gone"))
    with pytest.raises(SpeechError, match="cannot create a folder for speech WAVs"):
        Speaker(config())
