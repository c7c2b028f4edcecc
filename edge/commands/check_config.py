"""`sign2sound check-config`: validate a config file, then check what it names can work.

The installer uses it as its gate, so a config that parses but cannot work must fail here, not
at the first word: every file the daemon would load is loaded (checksums, LiteRT, MediaPipe),
a video file or replay is opened, the espeak-ng voice speaks a word, and the transcript's folder
is probed for writing (nothing is created). What needs the hardware the running service holds
(the camera, the ALSA device, the GPIO pin) is not opened; each is named with the command that
checks it by hand. Each problem is one line on stderr; exit 1 if there is any.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from edge.cli import add_common_arguments
from edge.config import Config, load_config
from edge.errors import Sign2SoundError

HELP = "validate a config file (and --set overrides) and check the files, voice and folder it names"

# A check returns what it checked (None: nothing to check here) or raises Sign2SoundError.
Check = Callable[[Config], "str | None"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def _classifier(config: Config) -> str:
    from edge.pipeline import Pipeline, load_classifier

    classifier = load_classifier(config)
    Pipeline(config, classifier)  # refuses a model built for other features
    runtime = classifier.runtime.label  # LiteRT / ONNX Runtime
    sums = (
        f"sha256 of both matches {config.classifier.checksums}, " if config.checksums_path() else ""
    )
    return (
        f"classifier.model {config.classifier.model} and labels {config.classifier.labels}: "
        f"{sums}{runtime} loads it ({classifier.steps} x {classifier.channels} in, "
        f"{len(classifier.labels)} labels)"
    )


def _source(config: Config) -> str | None:
    from edge.sources import source_from_config

    source = source_from_config(config)  # picamera2 asked for but not installed fails here
    if source.live:
        return None  # see not_checked()
    source.open()
    source.close()
    return f"camera.source {config.camera.source!r}: opens"


def _landmarks(config: Config) -> str:
    from edge.sources import REPLAY_PREFIX

    if config.camera.source.startswith(REPLAY_PREFIX):
        return "landmarks.model: not loaded for a replay, which carries its own landmarks"
    from edge.landmarks import HandTracker

    HandTracker.from_config(config).close()
    sums = "sha256 matches, " if config.checksums_path() else ""
    return f"landmarks.model {config.landmarks.model}: {sums}MediaPipe loads it"


def _voice(config: Config) -> str:
    speech = config.speech
    if not speech.enabled:
        return "speech: off (speech.enabled: false)"
    from edge.speech import synthesize_wav

    with tempfile.TemporaryDirectory() as tmp:
        synthesize_wav(
            "check", Path(tmp) / "check.wav", speech.voice, speech.rate_wpm, speech.volume
        )
    return f"speech.voice {speech.voice!r}: espeak-ng speaks it"


def _transcript(config: Config) -> str:
    from edge.outputs import OutputError, unwritable_reason

    path = config.transcript_path()
    if path.is_dir():
        raise OutputError(f"transcript.path: {path} is a folder; name a file in it")
    reason = unwritable_reason(path.parent)
    if reason:
        raise OutputError(f"transcript.path: {path}: {reason}")
    note = ""
    relative = not Path(config.transcript.path).expanduser().is_absolute()
    if relative and not os.environ.get("STATE_DIRECTORY"):
        note = " (a relative path: the service puts it under /var/lib/sign2sound instead)"
    return f"transcript {path}: its folder can be written{note}"


CHECKS: tuple[Check, ...] = (_classifier, _source, _landmarks, _voice, _transcript)


def not_checked(config: Config) -> list[str]:
    """What only the device itself can show, and how to check it by hand."""
    notes = []
    from edge.sources import is_camera_spec

    if is_camera_spec(config.camera.source):
        notes.append(
            f"camera.source {config.camera.source!r}: not opened (the service may hold it); "
            "check it with `sign2sound run --max-seconds 20` (the log says 'first frame "
            "processed: ready'), `ls /dev/video*` or, for the Pi camera, `rpicam-hello --list`"
        )
    if config.speech.enabled:
        device = config.speech.alsa_device
        notes.append(
            f"speech.alsa_device {device!r}: not played; check it as the service user with "
            f"`aplay -D {device} /usr/share/sounds/alsa/Front_Center.wav` (`aplay -L` lists them)"
        )
    if config.gpio.pin is not None:
        notes.append(
            f"gpio.pin {config.gpio.pin}: not opened (the service may hold it); a press logs "
            "'button: clear' in `journalctl -u sign2sound -f`"
        )
    return notes


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    name = args.config or "config.yaml"
    print(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False), end="")
    print(f"# {name}: every key is valid")
    problems = 0
    for check in CHECKS:
        try:
            checked = check(config)
        except Sign2SoundError as exc:
            problems += 1
            print(f"sign2sound check-config: error: {exc}", file=sys.stderr)
            continue
        if checked:
            print(f"# ok: {checked}")
    for note in not_checked(config):
        print(f"# not checked: {note}")
    if problems:
        print(f"# {name}: {problems} problem(s), see above")
        return 1
    print(f"# {name}: OK")
    return 0
