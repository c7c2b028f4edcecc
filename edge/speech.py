"""Speech: espeak-ng writes a WAV, a player plays it, on a worker that never stalls recognition.

Why this shape:
- `espeak-ng -w` writes a WAV and exits 0 whether or not there is a sound card, so it cannot tell
  us that nobody heard anything. Playback goes through `aplay -D <device>`, which fails loudly
  (exit code 1 and a message) when the device is missing or busy: that exit code is checked.
- A failed playback is logged once per outage (not once per word: a box without a speaker would
  fill the journal), counted, and never fatal; words still reach the transcript. When audio works
  again, that is logged too.
- `say()` only puts text on a bounded queue; the worker synthesises and plays. When the signer is
  faster than the speech, the oldest waiting utterance is dropped (letter feedback before words),
  with a log line and a counter, so latency stays bounded.
- The "player" is a small interface: `AplayPlayer` for the speaker, `WavFileSink` to append every
  utterance into one WAV file (`sign2sound demo --wav out.wav`, and tests that measure real
  speech).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge.config import SpeechConfig
from edge.errors import Sign2SoundError

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # espeak-ng's native rate for its own voices; the beep and sink use it too
ESPEAK_TIMEOUT_S = 30.0
_MAX_CACHED_LETTERS = 64


class SpeechError(Sign2SoundError):
    """Speech could not be synthesised (espeak-ng missing, unknown voice, ...)."""


class PlaybackError(Sign2SoundError):
    """A WAV could not be played (ALSA device missing or busy, aplay missing, ...)."""


def synthesize_wav(
    text: str,
    path: Path,
    voice: str = "en-us",
    rate_wpm: int = 150,
    volume: int = 100,
    timeout: float = ESPEAK_TIMEOUT_S,
) -> Path:
    """Run the real `espeak-ng -w path` on `text` (given on stdin, so no text is read as an
    option) and check that it wrote audio. Raises SpeechError naming the voice and the cause."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-a", str(volume), "-w", str(path)]
    try:
        result = subprocess.run(
            cmd, input=text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise SpeechError("espeak-ng is not installed (apt install espeak-ng)") from exc
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"espeak-ng took longer than {timeout:.0f} s for {text!r}") from exc
    if result.returncode != 0:
        detail = _last_line(result.stderr) or f"exit code {result.returncode}"
        raise SpeechError(f"espeak-ng (voice {voice!r}) failed: {detail}")
    if not path.exists() or path.stat().st_size <= 44:
        raise SpeechError(f"espeak-ng (voice {voice!r}) wrote no audio to {path}")
    return path


def write_beep(
    path: Path,
    frequency: float = 880.0,
    duration_s: float = 0.08,
    level: float = 0.4,
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """A short sine beep with 5 ms fades (no click), as 16-bit mono PCM."""
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    tone = np.sin(2 * np.pi * frequency * t) * level
    fade = min(n // 2, int(0.005 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
    _write_pcm(path, (tone * 32767).astype(np.int16), sample_rate)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(mono int16 samples, sample rate) of a 16-bit PCM WAV (stereo is averaged)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise PlaybackError(f"{path}: only 16-bit PCM WAV is supported")
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data, rate


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def _write_pcm(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _make_workdir() -> Path:
    """A private folder for the utterance WAVs: systemd's RuntimeDirectory (a tmpfs under /run)
    when the service has one, else the temp folder (private to the service: PrivateTmp=yes)."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None
    try:
        return Path(tempfile.mkdtemp(prefix="sign2sound-speech-", dir=runtime))
    except OSError as exc:
        raise SpeechError(
            f"cannot create a folder for speech WAVs in {runtime or tempfile.gettempdir()}: "
            f"{exc.strerror}"
        ) from exc


class Player(Protocol):
    """Plays one WAV file; raises (PlaybackError or any OSError) when it could not."""

    def play(self, wav: Path) -> None: ...


class AplayPlayer:
    """`aplay -D <device>`: the real ALSA playback, with its exit code checked."""

    def __init__(self, device: str = "default", timeout_margin_s: float = 10.0) -> None:
        self.device = device
        self.timeout_margin_s = timeout_margin_s

    def play(self, wav: Path) -> None:
        # a device held by another program can block aplay: never wait forever
        timeout = wav_duration(wav) + self.timeout_margin_s
        cmd = ["aplay", "-q", "-D", self.device, str(wav)]
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise PlaybackError("aplay is not installed (apt install alsa-utils)") from exc
        except subprocess.TimeoutExpired as exc:
            raise PlaybackError(
                f"aplay -D {self.device} did not finish within {timeout:.0f} s (device busy?)"
            ) from exc
        if result.returncode != 0:
            detail = _last_line(result.stderr) or f"exit code {result.returncode}"
            raise PlaybackError(
                f"aplay -D {self.device} failed (exit code {result.returncode}): {detail}; "
                "list devices with 'aplay -L' and set speech.alsa_device"
            )


class WavFileSink:
    """Appends every utterance (with a short pause) to one mono 16-bit WAV file.

    The header is rewritten after every utterance (the wave module patches it), so the file is a
    valid WAV even if the process dies before `close()`. Other sample rates are resampled.
    """

    def __init__(self, path: Path, pause_s: float = 0.3, sample_rate: int = SAMPLE_RATE) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self._pause = np.zeros(int(pause_s * sample_rate), np.int16)
        self._lock = threading.Lock()
        self.utterances = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115
        except OSError as exc:
            raise SpeechError(f"cannot write the speech WAV {self.path}: {exc.strerror}") from exc
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def play(self, wav: Path) -> None:
        samples, rate = read_wav(wav)
        if rate != self.sample_rate and len(samples):
            n_out = int(round(len(samples) * self.sample_rate / rate))
            x = np.linspace(0.0, len(samples) - 1, n_out)
            samples = np.interp(x, np.arange(len(samples)), samples).astype(np.int16)
        with self._lock:
            if self._wav is None:
                raise PlaybackError(f"{self.path}: the WAV sink is closed")
            if self.utterances:
                self._wav.writeframes(self._pause.tobytes())
            self._wav.writeframes(samples.astype("<i2").tobytes())
            self.utterances += 1

    def close(self) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None


UtteranceKind = Literal["word", "letter", "beep"]


@dataclass(frozen=True, slots=True)
class Utterance:
    kind: UtteranceKind
    text: str = ""


class Speaker:
    """Speaks words and letter feedback on a worker thread fed by a bounded drop-oldest queue.

    The Speaker owns its player: `close()` closes it too (a WavFileSink finalises its file).
    `speech.enabled: false` makes the box silent: nothing is queued and no thread starts.
    Counters: `spoken`, `failed`, `dropped` (and `queue_high_water` for soak tests).
    """

    def __init__(
        self,
        config: SpeechConfig,
        player: Player | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.config = config
        self.player: Player = player if player is not None else AplayPlayer(config.alsa_device)
        self._own_workdir = workdir is None
        self.workdir = _make_workdir() if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._queue: deque[Utterance] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._closed = False
        self._outage_failures = 0
        self.spoken = 0
        self.failed = 0
        self.dropped = 0
        self.queue_high_water = 0
        self.last_error: str | None = None
        self._beep: Path | None = None
        self._letters: dict[tuple[str, str, int, int], Path] = {}
        self._thread: threading.Thread | None = None
        if config.enabled:
            self._start_worker()

    def _start_worker(self) -> None:
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    def reconfigure(self, config: SpeechConfig) -> None:
        """A config reload: voice, rate, volume, feedback and queue size apply to the next
        utterance, the ALSA device to the next playback; `enabled` turns speech on or off."""
        with self._cond:
            self.config = config
            if isinstance(self.player, AplayPlayer):
                self.player.device = config.alsa_device
            if config.enabled and self._thread is None and not self._closed:
                self._start_worker()

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    @property
    def audio_ok(self) -> bool:
        """False while playback keeps failing (for STATUS=)."""
        return self._outage_failures == 0

    def say(self, text: str) -> bool:
        """Queue a word to be spoken; returns False when speech is off or closed."""
        text = text.strip()
        return bool(text) and self._put(Utterance("word", text))

    def letter_feedback(self, letter: str) -> bool:
        """Tell the signer (who sees no screen) that a letter was accepted, as configured."""
        mode = self.config.letter_feedback
        if mode == "beep":
            return self._put(Utterance("beep"))
        if mode == "letter" and letter.strip():
            return self._put(Utterance("letter", letter.strip()))
        return False

    def beep(self) -> bool:
        """Queue the beep on its own (enrolment's "now": hold the letter)."""
        return self._put(Utterance("beep"))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been handled; False on timeout or when off."""
        if self._thread is None:
            return not self._queue
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, drain: bool = True, timeout: float = 5.0) -> bool:
        """Stop the worker: speak what is queued first (drain) or drop it, both with a log line.
        Returns False when the worker was still busy after `timeout` seconds."""
        with self._cond:
            if self._closed:
                return True
            self._closed = True
            if not drain:
                self._drop_all("speech closing without draining")
            self._stopping = True
            self._cond.notify_all()
        stopped = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                stopped = False
                with self._cond:
                    self._drop_all(f"speech still busy after {timeout:.1f} s")
        if stopped:
            closer = getattr(self.player, "close", None)
            if callable(closer):
                closer()
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        return stopped

    def _drop_all(self, why: str) -> None:
        if self._queue:
            texts = ", ".join(u.text or u.kind for u in self._queue)
            log.warning("%s: %d utterance(s) not spoken: %s", why, len(self._queue), texts)
            self.dropped += len(self._queue)
            self._queue.clear()

    def _put(self, item: Utterance) -> bool:
        if self._thread is None or not self.config.enabled:
            return False
        with self._cond:
            if self._closed:
                log.debug("speech is closed; not speaking %r", item.text or item.kind)
                return False
            if len(self._queue) >= self.config.queue_size:
                victim = next((u for u in self._queue if u.kind != "word"), self._queue[0])
                self._queue.remove(victim)
                self.dropped += 1
                log.warning(
                    "speech queue full (%d): dropped %s %r to keep up",
                    self.config.queue_size,
                    victim.kind,
                    victim.text,
                )
            self._queue.append(item)
            self.queue_high_water = max(self.queue_high_water, len(self._queue))
            self._cond.notify_all()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if not self._queue:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._speak(item)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _speak(self, item: Utterance) -> None:
        try:
            self.player.play(self._wav_for(item))
        except Exception as exc:  # noqa: BLE001 - any failure here must never stop the worker
            self._failed(item, exc)
            return
        self.spoken += 1
        if self._outage_failures:
            log.warning(
                "speech audio works again (%d utterance(s) failed meanwhile)",
                self._outage_failures,
            )
            self._outage_failures = 0
            self.last_error = None

    def _failed(self, item: Utterance, exc: Exception) -> None:
        self.failed += 1
        self._outage_failures += 1
        self.last_error = str(exc)
        if self._outage_failures == 1:
            log.error(
                "cannot speak %r: %s (words still go to the transcript; further failures are "
                "counted, not logged, until audio works again)",
                item.text or item.kind,
                exc,
            )
        else:
            log.debug("speech failed again (%d in this outage): %s", self._outage_failures, exc)

    def _wav_for(self, item: Utterance) -> Path:
        if item.kind == "beep":
            if self._beep is None:
                self._beep = write_beep(self.workdir / "beep.wav")
            return self._beep
        if item.kind == "letter" and len(self._letters) < _MAX_CACHED_LETTERS:
            # tiny cached files, so feedback comes at once; keyed by the voice settings too, as
            # a config reload may change them
            cfg = self.config
            key = (item.text, cfg.voice, cfg.rate_wpm, cfg.volume)
            cached = self._letters.get(key)
            if cached is None:
                path = self.workdir / f"letter-{len(self._letters)}.wav"
                cached = self._letters[key] = self._synthesize(item.text, path)
            return cached
        return self._synthesize(item.text, self.workdir / "utterance.wav")

    def _synthesize(self, text: str, path: Path) -> Path:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return synthesize_wav(
            text, path, self.config.voice, self.config.rate_wpm, self.config.volume
        )
