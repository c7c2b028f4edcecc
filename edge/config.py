"""Typed configuration: one frozen dataclass per section, with defaults, bounds and descriptions.

Like Frigate's config models: every key is declared once here (type, default, bounds or allowed
values, description), unknown keys are rejected naming the key and the allowed ones, and every
error names the file and the key so a user on a headless box can fix it from the journal.
`config.yaml` at the repository root is the commented default; `tests` check they agree.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yaml"
MODELS_DIR = REPO_ROOT / "models"
# The trained reference GRU the speed target compares the classifier with (edge-bench model).
REFERENCE_DIR = REPO_ROOT / "benchmarks" / "reference"
# The project's real data sets sit beside the checkout (CI lays a copy of shared/ there too).
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


class ConfigError(UsageError):
    """A configuration problem, worded for the person who has to fix config.yaml."""


def setting(
    default: Any,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
    file_name: bool = False,
) -> Any:
    """Declare one config key with its default, bounds and description (dataclass field).
    `file_name`: the text must name a file (not be empty or end in a folder separator)."""
    meta = {
        "description": description,
        "min": minimum,
        "max": maximum,
        "choices": choices,
        "file_name": file_name,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class CameraConfig:
    source: str = setting(
        "auto",
        "Where frames come from: 'auto' (picamera2 if present, else OpenCV device 0), "
        "'picamera2', an OpenCV device index such as '0', a video file path, or "
        "'replay:<landmarks.csv>' to replay recorded landmark frames.",
    )
    width: int = setting(640, "Requested frame width in pixels.", minimum=160, maximum=3840)
    height: int = setting(480, "Requested frame height in pixels.", minimum=120, maximum=2160)
    fps: float = setting(30.0, "Requested camera frame rate.", minimum=1.0, maximum=120.0)
    mirror: bool = setting(False, "Flip frames horizontally before hand detection.")
    frame_slot_size: int = setting(
        1, "Frames held between capture and processing (oldest dropped).", minimum=1, maximum=8
    )
    realtime: bool = setting(
        True, "Pace video files and replays at their own frame rate (false: as fast as possible)."
    )
    retry_initial_s: float = setting(
        0.5, "First wait before reopening a camera that failed.", minimum=0.05, maximum=60.0
    )
    retry_max_s: float = setting(
        10.0, "Longest wait between camera reopen attempts.", minimum=0.1, maximum=600.0
    )


@dataclass(frozen=True)
class LandmarksConfig:
    model: str = setting(
        "models/hand_landmarker.task",
        "MediaPipe HandLandmarker bundle; relative paths are relative to the install folder. "
        "models/hand_landmarker_lite.task is faster on a Pi 4.",
    )
    min_detection_confidence: float = setting(
        0.5, "Palm detection confidence needed to report a hand.", minimum=0.0, maximum=1.0
    )
    min_presence_confidence: float = setting(
        0.5, "Hand presence confidence needed to keep tracking.", minimum=0.0, maximum=1.0
    )
    min_tracking_confidence: float = setting(
        0.5,
        "Tracking confidence below which the palm detector runs again.",
        minimum=0.0,
        maximum=1.0,
    )
    mirror_left_hand: str = setting(
        "auto",
        "Mirror a left hand to a right one before classification: 'auto' (by MediaPipe's "
        "handedness, decided per window), 'never' or 'always' (for a left-handed signer).",
        choices=("auto", "never", "always"),
    )


@dataclass(frozen=True)
class ClassifierConfig:
    model: str = setting(
        "models/letters_int8.tflite",
        "The letter classifier: a .tflite runs in LiteRT; an .onnx in ONNX Runtime (needs the "
        "'onnx' extra).",
    )
    labels: str = setting("models/labels.txt", "One label per line, in the model's output order.")
    checksums: str = setting(
        "models/SHA256SUMS",
        "sha256 list every model file is checked against at start (classifier model, labels, "
        "hand landmark bundle); empty string disables the check.",
    )
    window_s: float = setting(
        0.6,
        "Length of the window the classifier sees, in seconds; must be what the model was "
        "trained on.",
        minimum=0.2,
        maximum=5.0,
    )
    max_gap_s: float = setting(
        0.3,
        "A window step with no frame this recent counts as 'no hand'.",
        minimum=0.02,
        maximum=2.0,
    )
    every_n_frames: int = setting(
        1, "Run the classifier on every Nth processed frame.", minimum=1, maximum=30
    )
    threads: int = setting(1, "LiteRT interpreter threads.", minimum=1, maximum=8)
    profile: str = setting(
        "signer_profile.json",
        "Signer profile written by 'sign2sound enroll' (derived numbers, no frames): the model's "
        "letters re-weighed towards this signer's own. Relative paths go under $STATE_DIRECTORY "
        "like the transcript; a missing file means not enrolled; empty string = adaptation off.",
    )


@dataclass(frozen=True)
class DecoderConfig:
    threshold: float = setting(
        0.4, "Probability a letter needs before it can be accepted.", minimum=0.0, maximum=1.0
    )
    hold_s: float = setting(
        0.1,
        "How long the same letter must stay above threshold to be accepted.",
        minimum=0.0,
        maximum=5.0,
    )
    release_s: float = setting(
        0.06,
        "How long the accepted letter must be gone (another letter, low confidence or no hand) "
        "before the same letter counts again, so HELLO keeps its LL.",
        minimum=0.0,
        maximum=5.0,
    )
    dropout_s: float = setting(
        0.25,
        "No hand for less than this is the tracker losing the hand in a fast move: it does not "
        "count as the release a repeated letter needs.",
        minimum=0.0,
        maximum=2.0,
    )
    still_hand_s: float = setting(
        2.5,
        "A new hand that stays this long where it appeared, without moving or changing shape, "
        "is not a signing hand (MediaPipe's 'hand' on a face): it spells nothing until it moves. "
        "0 = every hand spells at once.",
        minimum=0.0,
        maximum=30.0,
    )
    still_hand_palms: float = setting(
        0.5,
        "How far a new hand must move (in palm sizes), or its shape change, to count as signing.",
        minimum=0.05,
        maximum=5.0,
    )
    word_gap_s: float = setting(
        1.0,
        "No hand for this long completes the word being spelled.",
        minimum=0.1,
        maximum=30.0,
    )
    max_word_length: int = setting(
        24, "A word this long is completed automatically.", minimum=1, maximum=200
    )


@dataclass(frozen=True)
class LexiconConfig:
    enabled: bool = setting(
        True,
        "Correct a completed word to a listed word when the letter evidence makes it clearly "
        "more likely; names and words not in the list come through as spelled.",
    )
    path: str = setting(
        "models/lexicon.tsv",
        "Word list (word<TAB>zipf frequency per line); relative paths are relative to the "
        "install folder.",
    )
    margin: float = setting(
        1.0,
        "How much more likely (natural log) the listed word must be than the letters as read "
        "before it replaces them; higher changes fewer words.",
        minimum=0.0,
        maximum=50.0,
    )
    prior_weight: float = setting(
        0.5,
        "Weight of the word's frequency against the letter evidence (0: evidence only).",
        minimum=0.0,
        maximum=10.0,
    )
    unknown_zipf: float = setting(
        1.25,
        "How frequent (zipf) a word the list does not have is taken to be: lower trusts the "
        "list more, higher keeps more names as read.",
        minimum=0.0,
        maximum=8.0,
    )
    max_edits: int = setting(
        2, "Most letters a correction may change, add or drop.", minimum=0, maximum=5
    )
    letters_per_edit: int = setting(
        3,
        "One edit is allowed per this many letters read (so a 2-letter word is never changed).",
        minimum=1,
        maximum=10,
    )
    missed_letter_cost: float = setting(
        3.0,
        "Cost (natural log) of a letter the decoder missed.",
        minimum=0.0,
        maximum=50.0,
    )
    extra_letter_cost: float = setting(
        3.5,
        "Cost (natural log) of an extra letter the decoder accepted, on top of -ln(1 - p) "
        "of its probability p (a letter read with little confidence is cheaper to drop).",
        minimum=0.0,
        maximum=50.0,
    )
    missed_double_cost: float = setting(
        2.0,
        "Cost (natural log) of a missed letter that repeats the one before it (a double letter "
        "read once, when its release was not seen).",
        minimum=0.0,
        maximum=50.0,
    )
    min_prob: float = setting(
        0.005,
        "Floor on a letter's probability in the evidence, so one near-zero output cannot veto "
        "a word on its own.",
        minimum=1e-6,
        maximum=0.5,
    )


@dataclass(frozen=True)
class SpeechConfig:
    enabled: bool = setting(True, "Speak completed words.")
    voice: str = setting("en-us", "espeak-ng voice (espeak-ng --voices lists them).")
    rate_wpm: int = setting(150, "Speaking rate in words per minute.", minimum=80, maximum=450)
    volume: int = setting(100, "espeak-ng amplitude.", minimum=0, maximum=200)
    alsa_device: str = setting(
        "default", "ALSA playback device for aplay, e.g. 'default', 'plughw:1,0' (aplay -L)."
    )
    letter_feedback: str = setting(
        "beep",
        "What the signer hears when a letter is accepted: 'none', 'beep' or 'letter' (spoken).",
        choices=("none", "beep", "letter"),
    )
    queue_size: int = setting(
        8, "Utterances waiting to be spoken before the oldest is dropped.", minimum=1, maximum=100
    )


@dataclass(frozen=True)
class TranscriptConfig:
    path: str = setting(
        "transcript.txt",
        "File every completed word is appended to (with a timestamp, fsync'd). Relative paths "
        "go under $STATE_DIRECTORY when systemd sets it, else the working folder.",
        file_name=True,
    )
    fsync: bool = setting(True, "fsync after every word so a power cut loses nothing.")


@dataclass(frozen=True)
class GpioConfig:
    pin: int | None = setting(
        None,
        "BCM pin of the button (wired to ground); null = no button.",
        minimum=0,
        maximum=27,
    )
    hold_s: float = setting(
        1.0,
        "Holding the button this long repeats the last word instead of clearing.",
        minimum=0.2,
        maximum=10.0,
    )
    bounce_s: float = setting(0.05, "Debounce time for the button.", minimum=0.0, maximum=1.0)
    enrol_hold_s: float = setting(
        5.0,
        "Holding the button this long starts enrolment (sign2sound enroll, headless); 0 = off.",
        minimum=0.0,
        maximum=30.0,
    )


@dataclass(frozen=True)
class ServiceConfig:
    allow_root: bool = setting(False, "Allow running as root (not recommended).")
    log_level: str = setting(
        "INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    status_interval_s: float = setting(
        2.0, "How often STATUS= is sent to systemd.", minimum=0.1, maximum=60.0
    )
    save_debug_frames: bool = setting(
        False, "Write camera frames to disk for debugging. Off: no frame is ever stored."
    )


@dataclass(frozen=True)
class EnrolmentConfig:
    capture_s: float = setting(
        1.5,
        "How long each letter's frames are collected, after half a second to form it: with it "
        "the signer holds each letter about 2 s after its prompt and beep.",
        minimum=0.5,
        maximum=10.0,
    )
    min_frames: int = setting(
        6,
        "Steady, confident frames a letter needs; fewer and the letter is asked again.",
        minimum=2,
        maximum=200,
    )
    attempts: int = setting(
        3,
        "Times a letter is asked before it is skipped (it then keeps the model's reading).",
        minimum=1,
        maximum=10,
    )


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = field(default_factory=CameraConfig)
    landmarks: LandmarksConfig = field(default_factory=LandmarksConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    lexicon: LexiconConfig = field(default_factory=LexiconConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    transcript: TranscriptConfig = field(default_factory=TranscriptConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    enrolment: EnrolmentConfig = field(default_factory=EnrolmentConfig)

    def resolve_path(self, value: str) -> Path:
        """Resolve a model/label path: absolute as is, relative to the install folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path

    def checksums_path(self) -> Path | None:
        """classifier.checksums resolved; None when the check is off (empty string)."""
        return self.resolve_path(self.classifier.checksums) if self.classifier.checksums else None

    def transcript_path(self) -> Path:
        return self.state_path(self.transcript.path)

    def state_path(self, value: str) -> Path:
        """A file the box writes: absolute as is, relative under $STATE_DIRECTORY (systemd's
        StateDirectory) when set, else the working folder."""
        path = Path(value).expanduser()
        if path.is_absolute():
            return path
        base = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return (Path(base) if base else Path.cwd()) / path

    def profile_path(self) -> Path | None:
        """The signer profile (classifier.profile), None when adaptation is off."""
        return self.state_path(self.classifier.profile) if self.classifier.profile else None


SECTIONS: dict[str, type] = {
    "camera": CameraConfig,
    "landmarks": LandmarksConfig,
    "classifier": ClassifierConfig,
    "decoder": DecoderConfig,
    "lexicon": LexiconConfig,
    "speech": SpeechConfig,
    "transcript": TranscriptConfig,
    "gpio": GpioConfig,
    "service": ServiceConfig,
    "enrolment": EnrolmentConfig,
}


def _describe_allowed(names: Sequence[str]) -> str:
    return ", ".join(sorted(names))


def _field_type(section_cls: type, name: str) -> Any:
    hints = typing.get_type_hints(section_cls)
    return hints[name]


def _coerce(where: str, value: Any, typ: Any, meta: Mapping[str, Any]) -> Any:
    """Check one value against its declared type, bounds and choices; return it typed."""
    optional = False
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        optional = len(args) < len(typing.get_args(typ))
        typ = args[0]
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: a value is required (got null)")

    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    elif typ is str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # e.g. camera source 0 written without quotes
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")

    if meta.get("file_name") and (
        not value.strip() or value.endswith(("/", "\\")) or Path(value).name in ("", "..")
    ):
        raise ConfigError(f"{where}: {value!r} names no file; give a file name, e.g. words.txt")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{where}: {value!r} is not allowed; allowed values: {allowed}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise ConfigError(f"{where}: {value!r} is below the minimum {low}")
    if high is not None and value > high:
        raise ConfigError(f"{where}: {value!r} is above the maximum {high}")
    return value


def _build_section(origin: str, name: str, section_cls: type, data: Any) -> Any:
    if data is None:
        return section_cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: section '{name}' must be a mapping of keys, got {data!r}")
    known = {f.name: f for f in dataclasses.fields(section_cls)}
    values = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"{origin}: unknown key '{name}.{key}'; allowed keys in '{name}': "
                f"{_describe_allowed(list(known))}"
            )
        spec = known[key]
        values[key] = _coerce(
            f"{origin}: {name}.{key}", value, _field_type(section_cls, key), spec.metadata
        )
    return dataclasses.replace(section_cls(), **values)


def config_from_mapping(data: Any, origin: str = "config") -> Config:
    """Validate a parsed YAML mapping into a Config; raise ConfigError naming the bad key."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: the top level must be a mapping of sections, got {data!r}")
    sections = {}
    for name, value in data.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"{origin}: unknown section '{name}'; allowed sections: "
                f"{_describe_allowed(list(SECTIONS))}"
            )
        sections[name] = _build_section(origin, name, SECTIONS[name], value)
    config = Config(**sections)
    _check_consistency(origin, config)
    return config


def _check_consistency(origin: str, config: Config) -> None:
    if config.camera.retry_max_s < config.camera.retry_initial_s:
        raise ConfigError(
            f"{origin}: camera.retry_max_s ({config.camera.retry_max_s}) must not be below "
            f"camera.retry_initial_s ({config.camera.retry_initial_s})"
        )
    gpio = config.gpio
    if gpio.enrol_hold_s and gpio.enrol_hold_s <= gpio.hold_s:
        raise ConfigError(
            f"{origin}: gpio.enrol_hold_s ({gpio.enrol_hold_s}) must be above gpio.hold_s "
            f"({gpio.hold_s}) or 0 (off)"
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key written twice in one mapping: PyYAML would silently
    keep the last one, and a user who added a second `threshold:` lower down would wonder why
    the first has no effect. It also reads 1e0 as a number (below). Used for files and --set."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # `<<: *anchor` merges may be overridden by the keys written out
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice (first at line {seen[key]})",
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 1e0, 5e-1 or 1E3 as text, because its floats need a dot and a signed
# exponent; YAML 1.2 and every user read them as numbers, so the loader does too.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse one `--set section.key=value` (value in YAML syntax: 0.8, true, null, 'text')."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. decoder.threshold=0.8")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = yaml.load(raw, Loader=_UniqueKeyLoader) if raw.strip() else ""  # noqa: S506
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({problem})") from exc
    return section, key, value


def _check_override(section: str, key: str, value: Any) -> None:
    """Check one --set on its own, so its error names the --set and not the (good) file."""
    where = f"--set {section}.{key}"
    section_cls = SECTIONS.get(section)
    if section_cls is None:
        raise ConfigError(
            f"{where}: unknown section '{section}'; allowed sections: "
            f"{_describe_allowed(list(SECTIONS))}"
        )
    known = {f.name: f for f in dataclasses.fields(section_cls)}
    if key not in known:
        raise ConfigError(
            f"{where}: unknown key '{section}.{key}'; allowed keys in '{section}': "
            f"{_describe_allowed(list(known))}"
        )
    _coerce(where, value, _field_type(section_cls, key), known[key].metadata)


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()
) -> Config:
    """Load config.yaml (or the default) and apply `--set` overrides; errors are ConfigError."""
    cfg_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{cfg_path}: config file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read config file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{cfg_path}: line {line} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{cfg_path}: YAML does not parse{where}: {problem}") from exc
    if data is None and not overrides:
        raise ConfigError(f"{cfg_path}: the file is empty; copy config.yaml from the install")
    data = dict(data or {}) if isinstance(data, Mapping) else data
    for text_override in overrides:
        section, key, value = parse_override(text_override)
        _check_override(section, key, value)
        if isinstance(data, dict):
            sec = dict(data.get(section) or {})
            sec[key] = value
            data[section] = sec
    return config_from_mapping(data, origin=str(cfg_path))


def describe_defaults() -> dict[str, dict[str, Any]]:
    """Every section's keys with their default values (used by tests and check-config)."""
    return {name: dataclasses.asdict(cls()) for name, cls in SECTIONS.items()}
