"""The device's main job: camera → hand → letters → words → speech and transcript, until stopped.

Three threads, bounded everywhere (see ../shared/DESIGN.md): the capture thread fills a small
drop-oldest slot; this processing loop (the main thread) runs the pipeline frame by frame; the
speech worker speaks from a bounded queue. GPIO button callbacks only put commands on a queue the
loop drains between frames, and signals only set flags (edge.service), so every piece of real
work (decoder, transcript, speech) happens here, in order, on one thread.

Promises the loop keeps:
- every completed word goes to the transcript (fsync'd) BEFORE it is queued for speech, so a
  word is kept even when audio fails; a word in progress when the stream ends or the service is
  stopped is completed, not dropped;
- a camera that fails is reopened with backoff by the capture thread while the decoder keeps the
  word being spelled; the outage is logged once and shown in STATUS=;
- READY=1 goes to systemd after the first frame went through the whole pipeline, or as soon as
  the camera is found missing at start (so a box booted without its camera keeps retrying
  instead of failing its start-up timeout); WATCHDOG=1 is
  sent from this loop (so a hung loop is restarted), STATUS= shows the word and the frame rate;
- SIGTERM/SIGINT stop the loop between frames; SIGHUP re-reads the config file and applies the
  settings that can change live (LIVE_KEYS: decoder, speech, transcript, log level, status
  interval, debug frames) at once; the words held back for a transcript that could not be
  written move, in order, to the new one; every other change is named in a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.config import Config, ConfigError, load_config
from edge.decoder import DecoderEvent
from edge.enrolment import ENROL_LETTERS, EnrolmentSession
from edge.errors import Sign2SoundError
from edge.pipeline import Classifier, Pipeline, load_classifier
from edge.sdnotify import SystemdNotifier
from edge.service import ServiceSignals
from edge.signer_profile import profile_state
from edge.sources import (
    CaptureThread,
    EndOfStream,
    Frame,
    FrameSource,
    source_from_config,
)
from edge.speech import Player, Speaker
from edge.transcript import Transcript

log = logging.getLogger(__name__)

CLEAR = "clear"  # button press: discard the word being spelled
REPEAT = "repeat"  # button hold: speak the last completed word again
ENROL = "enrol"  # long button hold (gpio.enrol_hold_s): learn the signer's letters (edge.enrolment)
COMMANDS = (CLEAR, REPEAT, ENROL)

# What a reload applies at once: whole sections, or single keys. Every other key is read once
# at start (camera, models, button, root check) and a change to it is named in a warning.
LIVE_KEYS = frozenset(
    {
        "decoder",
        "speech",
        "transcript",
        "service.log_level",
        "service.status_interval_s",
        "service.save_debug_frames",
        "classifier.profile",
        "enrolment",
    }
)

_FRAME_WAIT_S = 0.25  # longest the loop waits for a frame before it looks at commands/watchdog
_TRANSCRIPT_RETRY_S = 30.0


def changed_keys(old: Config, new: Config) -> list[str]:
    """'section.key' of every setting that differs between two configs, in declaration order."""
    changed = []
    for section in dataclasses.fields(Config):
        before, after = getattr(old, section.name), getattr(new, section.name)
        for key in dataclasses.fields(before):
            if getattr(before, key.name) != getattr(after, key.name):
                changed.append(f"{section.name}.{key.name}")
    return changed


class RecentHistory(list[str]):
    """The most recent `limit` entries plus a count of all of them.

    A box runs for months: the run summary must not grow with every letter ever signed, but
    the demo, the tests and the last log line want the words of a run as a plain list.
    """

    limit = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def append(self, item: str) -> None:
        self.total += 1
        super().append(item)
        if len(self) > self.limit:
            del self[: len(self) - self.limit]


@dataclass
class RunSummary:
    """What a run did: for the CLI's last log line, the demo's output and the tests. The lists
    keep the latest RecentHistory.limit entries; `.total` counts them all."""

    words: RecentHistory = field(default_factory=RecentHistory)
    letters: RecentHistory = field(default_factory=RecentHistory)
    cleared: RecentHistory = field(default_factory=RecentHistory)
    repeated: RecentHistory = field(default_factory=RecentHistory)
    frames: int = 0  # frames through the recognition pipeline
    hands: int = 0
    enrolment_frames: int = 0  # frames watched by enrolment instead (they spell nothing)
    dropped_frames: int = 0
    camera_outages: int = 0
    stop_reason: str = ""
    ready: bool = False
    unwritten_words: int = 0  # completed words that never reached the transcript (only in the log)
    transcript_path: Path | None = None


class Daemon:
    """One run of the recognition loop. Build it, call `run()`; `request_stop()` from anywhere.

    Every collaborator can be passed in (tests, the demo); by default each is built from the
    config: the source, the HandTracker (not for a source that `gives_observations`, such as a
    landmark replay), the LetterClassifier (its
    sha256 checked, so a wrong model refuses to start), the Speaker with aplay, the transcript,
    the button (when gpio.pin is set) and the systemd notifier.
    """

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | Path | None = None,
        overrides: Sequence[str] = (),
        source: FrameSource | None = None,
        classifier: Classifier | None = None,
        tracker: Any = None,
        player: Player | None = None,
        notifier: SystemdNotifier | None = None,
        signals: ServiceSignals | None = None,
        pin_factory: Any = None,
        max_seconds: float | None = None,
        on_event: Callable[[DecoderEvent], None] | None = None,
        log_level_from_config: bool = False,
        enrol: Sequence[str] | None = None,
        stop_after_enrolment: bool = False,
    ) -> None:
        self.config = config
        # `sign2sound run` without --log-level: service.log_level sets the level, also on reload
        self.log_level_from_config = log_level_from_config
        self.config_path = config_path
        self.overrides = list(overrides)
        self.max_seconds = max_seconds
        self.on_event = on_event
        self.commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.signals = signals or ServiceSignals()
        self.notifier = notifier or SystemdNotifier.from_environment()
        self.summary = RunSummary()

        # Fail fast, before any device is touched: the model (checksum), then the source spec.
        self.classifier = classifier or load_classifier(config)
        self.source = source or source_from_config(config)
        if not self.source.live:
            # a video file or replay that cannot be read fails here, in one line, before
            # MediaPipe is loaded; a camera is retried by the capture thread instead
            self.source.open()
            self.source.close()
        self._owns_tracker = False
        if tracker is None and not getattr(self.source, "gives_observations", False):
            from edge.landmarks import HandTracker

            tracker = HandTracker.from_config(config)
            self._owns_tracker = True
        self.tracker = tracker
        try:  # a model the pipeline refuses must not leave MediaPipe open behind the error
            self.pipeline = Pipeline(config, self.classifier, tracker=tracker)
        except BaseException:
            if self._owns_tracker:
                tracker.close()
            raise
        self.transcript = Transcript(config.transcript_path(), fsync=config.transcript.fsync)
        self.speaker = Speaker(config.speech, player)
        self.button = self._make_button(pin_factory)
        self.capture = CaptureThread(
            self.source,
            slot_size=config.camera.frame_slot_size,
            retry_initial_s=config.camera.retry_initial_s,
            retry_max_s=config.camera.retry_max_s,
        )
        self._debug_dir: Path | None = None
        self._apply_debug_frames(config)
        self.last_word = ""  # the last completed word as spoken (after word correction)
        self._frames_at_status = 0
        self._faults_at_status = 0
        self._status_t = 0.0
        self._last_transcript_retry = 0.0
        # enrolment (sign2sound enroll, or the long button hold): the letters to enrol next
        self.enrolment: EnrolmentSession | None = None
        self.last_enrolment: EnrolmentSession | None = None
        self._enrol_letters = tuple(enrol) if enrol else ENROL_LETTERS
        self._stop_after_enrolment = stop_after_enrolment
        if enrol is not None:
            self.commands.put(ENROL)

    # -- public --------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop after the current frame (thread-safe; same path as SIGTERM)."""
        self.signals.request_stop()

    def command(self, name: str) -> None:
        """Queue a button command (thread-safe): CLEAR or REPEAT."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; expected one of {COMMANDS}")
        self.commands.put(name)  # drained within _FRAME_WAIT_S, between frames

    def run(self) -> RunSummary:
        """Run until the source ends, a stop is requested or max_seconds pass. Raises the
        SourceError of a video file or replay that could not be read."""
        cfg = self.config
        log.info(
            "starting: source %s, classifier %s (%d labels), transcript %s, speech %s; %s",
            self.source.name,
            cfg.classifier.model,
            len(self.classifier.labels),
            self.transcript.path,
            f"on ALSA '{cfg.speech.alsa_device}'" if cfg.speech.enabled else "off",
            self.pipeline.profile.summary,
        )
        started = time.monotonic()
        self._status_t = started
        self.notifier.status(f"starting: waiting for the first frame from {self.source.name}")
        # _shutdown runs inside the signal context too: a second SIGTERM or a SIGHUP during the
        # speech drain only sets a flag instead of killing the process mid-shutdown.
        with self.signals:
            try:
                self.capture.start()
                self._loop(started)
            finally:
                self._shutdown()
        if self.capture.error is not None:
            raise self.capture.error
        return self.summary

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self, started: float) -> None:
        signals = self.signals
        while not signals.stop_requested:
            self._drain_commands()
            if signals.take_reload():
                self._reload()
            now = time.monotonic()
            if self.max_seconds is not None and now - started >= self.max_seconds:
                log.info("stopping after --max-seconds %.1f", self.max_seconds)
                self.summary.stop_reason = "max-seconds"
                return
            try:
                frame = self.capture.get(timeout=_FRAME_WAIT_S)
            except EndOfStream:
                self._end_enrolment(save=True)  # a replay ended: judge what it gave
                if self.capture.error is None:
                    log.info("end of %s", self.source.name)
                    self.summary.stop_reason = "end of source"
                else:
                    self.summary.stop_reason = "source failed"
                return
            if frame is not None and self.enrolment is not None:
                self._enrol_frame(frame)
            elif frame is not None:
                events = self.pipeline.process_frame(frame)
                if events and self._debug_dir is not None:
                    self._save_debug_frame(frame, events)
                self._handle_events(events)
                if not self.summary.ready:
                    self._become_ready("listening", "first frame processed: ready")
            elif not self.summary.ready and self.capture.stats.outages:
                # A box that boots before its camera is plugged in must not end up 'failed':
                # the daemon is healthy and retrying, so tell systemd it is up and say why
                # it does not listen yet (STATUS=); the watchdog keeps covering the loop.
                self._become_ready(
                    "camera not available, retrying",
                    "camera not available at start: ready, retrying in the background",
                )
            self.notifier.watchdog_if_due(now)
            if now - self._status_t >= self.config.service.status_interval_s:
                self._send_status(now)
            if self.transcript.pending and now - self._last_transcript_retry >= _TRANSCRIPT_RETRY_S:
                self._last_transcript_retry = now
                self.transcript.retry()
        self.summary.stop_reason = signals.stop_reason or "stop requested"
        log.info("stopping (%s)", self.summary.stop_reason)

    def _become_ready(self, status: str, message: str) -> None:
        self.summary.ready = True
        self.notifier.ready(status=status)
        log.info(message)

    def _handle_events(self, events: list[DecoderEvent]) -> None:
        for event in events:
            if event.kind == "letter":
                self.summary.letters.append(event.text)
                log.info(
                    "letter %s (word so far: %s)", event.text, self.pipeline.decoder.current_word
                )
                self.speaker.letter_feedback(event.text)
            elif event.kind == "word":
                self.summary.words.append(event.text)
                self.last_word = event.text  # as corrected: what was said is what repeats
                if event.raw is not None:
                    log.info("word: %s (read %s)", event.text, event.raw)
                else:
                    log.info("word: %s", event.text)
                # the transcript first: the word is kept even if speech fails or is dropped
                self.transcript.append(event.text, datetime.now().astimezone())
                self.speaker.say(event.text)
            elif event.kind == "cleared":
                self.summary.cleared.append(event.text)
                log.info("word cleared: %s", event.text)
            if self.on_event is not None:
                self.on_event(event)

    def _save_debug_frame(self, frame: Frame, events: list[DecoderEvent]) -> None:
        """Only with service.save_debug_frames: the image a letter was accepted on, to see what
        the camera showed when a letter was misread. Otherwise no frame ever touches the disk."""
        letters = "".join(e.text for e in events if e.kind == "letter")
        if not letters or frame.image is None:
            return
        import cv2

        try:
            self._debug_dir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            path = self._debug_dir / f"{stamp}-{letters}.jpg"
            if not cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)):
                raise OSError("OpenCV could not write it")
        except (OSError, cv2.error) as exc:
            log.error(
                "cannot save a debug frame in %s: %s; no more are saved", self._debug_dir, exc
            )
            self._debug_dir = None

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command == CLEAR:
                events = self.pipeline.clear(self.pipeline.last_t or 0.0)
                if not events:
                    log.info("button: clear (no word in progress)")
                self._handle_events(events)
            elif command == REPEAT:
                word = self.last_word
                if word:
                    log.info("button: repeating %s", word)
                    self.summary.repeated.append(word)
                    self.speaker.say(word)
                else:
                    log.info("button: repeat, but no word has been completed yet")
            elif command == ENROL:
                self._start_enrolment()

    # -- enrolment (edge.enrolment) -----------------------------------------------------------
    def _start_enrolment(self) -> None:
        """Switch the loop to enrolment: the word in progress is completed first (kept)."""
        if self.enrolment is not None:
            log.info("enrolment already running")
            return
        self._handle_events(self.pipeline.finish())
        try:
            session = EnrolmentSession(
                self.config,
                self.classifier,
                self.speaker,
                self.pipeline.observe,
                letters=self._enrol_letters,
            )
        except Sign2SoundError as exc:
            log.error("cannot enrol: %s", exc)
            self.speaker.say("enrolment is not possible, see the log")
            return
        self.enrolment = self.last_enrolment = session
        session.start()

    def _enrol_frame(self, frame: Frame) -> None:
        self.summary.enrolment_frames += 1
        self.enrolment.feed(frame)
        if self.enrolment.done:
            self._enrolment_done()

    def _end_enrolment(self, *, save: bool) -> None:
        if self.enrolment is not None:
            self.enrolment.end(save=save)
            self._enrolment_done()

    def _enrolment_done(self) -> None:
        session, self.enrolment = self.enrolment, None
        if session.state is not None:
            self.pipeline.profile = session.state  # the new profile applies from the next frame
        if self._stop_after_enrolment:
            self.request_stop()

    def _send_status(self, now: float) -> None:
        counters = self.pipeline.counters
        elapsed = max(now - self._status_t, 1e-6)
        frames = counters.frames - self._frames_at_status
        faults = counters.bad_frames + counters.landmark_errors
        self._frames_at_status = counters.frames
        self._status_t = now
        new_faults, self._faults_at_status = faults - self._faults_at_status, faults
        self.notifier.status(self.status_text(frames / elapsed, new_faults, frames))

    def status_text(self, fps: float, frame_faults: int = 0, frames: int = 0) -> str:
        """The STATUS= line: what `systemctl status` shows on a headless box. `frame_faults`:
        frames of the last `frames` that the landmark stage could not use (it logs them only
        once a minute, so a MediaPipe broken for good must show here)."""
        stats = self.capture.stats
        decoder = self.pipeline.decoder
        parts = []
        if self.enrolment is not None:
            parts.append(self.enrolment.status())
        if not stats.connected and stats.outages:
            parts.append(f"camera lost, retrying: {stats.last_error}")
        parts.append(f"word: {decoder.current_word or '-'}")
        parts.append(f"last: {self.last_word or '-'}")
        parts.append(f"{fps:.1f} fps")
        if stats.dropped:
            parts.append(f"{stats.dropped} frames dropped")
        if frame_faults:
            fault = self.pipeline.counters.last_fault.split(": ", 1)[-1][:80]
            parts.append(f"landmark stage failed on {frame_faults} of {frames} frames ({fault})")
        if not self.speaker.audio_ok:
            parts.append("audio failing")
        if self.transcript.pending:
            parts.append(f"transcript failing ({self.transcript.pending} words held)")
        parts.append(self.pipeline.profile.summary)
        return "; ".join(parts)

    # -- reload ----------------------------------------------------------------------------------
    def _reload(self) -> None:
        """SIGHUP: re-read the config; apply every key that can change live, at once, and name
        every other changed key in a warning (it takes a restart)."""
        self.notifier.reloading()
        try:
            new = load_config(self.config_path, self.overrides)
        except ConfigError as exc:
            log.error("reload: %s; keeping the running configuration", exc)
            self.notifier.ready(status="reload failed: " + str(exc))
            return
        old = self.config
        changed = changed_keys(old, new)
        applied = [key for key in changed if key in LIVE_KEYS or key.split(".")[0] in LIVE_KEYS]
        needs_restart = [key for key in changed if key not in applied]
        if "service.log_level" in applied and not self.log_level_from_config:
            applied.remove("service.log_level")
            log.warning("reload: service.log_level not applied: --log-level was given")
        self.config = new
        self.pipeline.reconfigure_decoder(new.decoder)
        self.speaker.reconfigure(new.speech)
        if new.transcript_path() != self.transcript.path or new.transcript != old.transcript:
            # the words held back while the old file could not be written go first, in order
            self.transcript.move_to(new.transcript_path(), fsync=new.transcript.fsync)
        self._apply_debug_frames(new)
        # the signer profile is read again (after `enroll --from` or `--reset` on a running box)
        self.pipeline.profile = profile_state(new, self.classifier)
        root = logging.getLogger()
        level = logging.getLevelName(new.service.log_level)
        if "service.log_level" in applied:
            # the reload line is logged at the more verbose of the two levels, so it shows
            # whichever way the level moves
            root.setLevel(min(root.level, level))
        log.info("reload: configuration re-read; applied: %s", ", ".join(applied) or "no changes")
        if "service.log_level" in applied:
            root.setLevel(level)
        if needs_restart:
            log.warning(
                "reload: changes to %s take effect after a restart (systemctl restart sign2sound)",
                ", ".join(needs_restart),
            )
        self.notifier.ready(status="configuration reloaded")

    def _apply_debug_frames(self, config: Config) -> None:
        """service.save_debug_frames, at start and on reload: off means no frame is written
        from the next frame on."""
        if not config.service.save_debug_frames:
            if self._debug_dir is not None:
                log.info("service.save_debug_frames is off: no more frames are written")
            self._debug_dir = None
            return
        folder = config.transcript_path().parent / "debug-frames"
        if folder != self._debug_dir:
            log.warning(
                "service.save_debug_frames is on: the frame of every accepted letter is written "
                "to %s",
                folder,
            )
        self._debug_dir = folder

    # -- setup / teardown ----------------------------------------------------------------------
    def _make_button(self, pin_factory: Any) -> Any:
        if self.config.gpio.pin is None:
            return None
        from edge.button import ButtonController

        return ButtonController(
            self.config.gpio,
            on_press=lambda: self.command(CLEAR),
            on_hold=lambda: self.command(REPEAT),
            pin_factory=pin_factory,
            on_long_hold=lambda: self.command(ENROL),
        )

    def _shutdown(self) -> None:
        """Complete the word in progress, then stop every thread; nothing spelled is lost."""
        self.notifier.stopping()
        self._end_enrolment(save=False)  # stopped mid-enrolment: the old profile stays
        try:
            self._handle_events(self.pipeline.finish())
        except Exception:  # noqa: BLE001 - shutting down must go on
            log.exception("completing the last word failed")
        self.capture.stop()
        stats = self.capture.stats
        counters = self.pipeline.counters
        self.summary.frames = counters.frames
        self.summary.hands = counters.hands
        self.summary.dropped_frames = stats.dropped
        self.summary.camera_outages = stats.outages
        if self.button is not None:
            self.button.close()
        if not self.speaker.close(drain=True, timeout=15.0):
            log.warning("speech did not finish within 15 s; the rest was not spoken")
        self.transcript.close()
        self.summary.unwritten_words = self.transcript.pending + self.transcript.lost
        self.summary.transcript_path = self.transcript.path
        if self._owns_tracker and self.tracker is not None:
            self.tracker.close()
        unwritten = self.summary.unwritten_words
        log.log(
            logging.ERROR if unwritten else logging.INFO,
            "stopped: %d frames (%d with a hand, %d dropped%s), %d word(s)%s: %s%s",
            counters.frames,
            counters.hands,
            stats.dropped,
            f", {self.summary.enrolment_frames} more for enrolment"
            if self.summary.enrolment_frames
            else "",
            self.summary.words.total,
            ", the last 20" if self.summary.words.total > 20 else "",
            " ".join(self.summary.words[-20:]) or "-",
            f"; {unwritten} of them NOT in the transcript {self.transcript.path}"
            if unwritten
            else "",
        )


def run_daemon(config: Config, **kwargs: Any) -> RunSummary:
    """Build and run a Daemon; Sign2SoundError subclasses propagate for the CLI to print."""
    daemon = Daemon(config, **kwargs)
    return daemon.run()


__all__ = ["CLEAR", "REPEAT", "Daemon", "RunSummary", "Sign2SoundError", "run_daemon"]
