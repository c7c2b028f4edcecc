"""Bad configuration and command-line input: one clear line naming the key or line, exit code 2,
no traceback, for EVERY key.

The cases are generated from edge/config.py's dataclasses (each key's type, bounds and choices),
so a key added tomorrow is covered without touching this file. Every case goes through the real
CLI entry point (`edge.cli.main`, as the console script calls it), both as a config file and as a
`--set` override; one case of each kind also runs as a real `sign2sound run` process.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_helpers import DEMO_CSV

from edge import cli
from edge.config import SECTIONS

BAD_CHOICE = "definitely-not-a-choice"


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad value for one key, and the words its error message must contain."""

    section: str
    key: str
    value: Any
    why: str
    expected: str

    @property
    def id(self) -> str:
        return f"{self.section}.{self.key}={self.value!r} ({self.why})"


def _base_type(typ: Any) -> tuple[type, bool]:
    """(the declared type, whether null is allowed) of a config field's annotation."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(typ))
    return typ, False


def _wrong_types(typ: type) -> list[tuple[Any, str]]:
    if typ is bool:
        return [("maybe", "expected true or false"), (1, "expected true or false")]
    if typ is int:
        return [("many", "expected a whole number"), (2.5, "expected a whole number")]
    if typ is float:
        return [
            ("high", "expected a number"),
            ([0.5], "expected a number"),
            (float("nan"), "expected a finite number"),
            (float("inf"), "expected a finite number"),
        ]
    if typ is str:
        return [([1, 2], "expected text"), ({"a": 1}, "expected text")]
    raise AssertionError(f"no wrong-type values for {typ}: add them here")


def generate_cases() -> list[Case]:
    cases = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            typ, nullable = _base_type(hints[spec.name])
            meta = spec.metadata
            for value, expected in _wrong_types(typ):
                cases.append(Case(section, spec.name, value, "wrong type", expected))
            if not nullable:
                cases.append(Case(section, spec.name, None, "null", "a value is required"))
            low, high = meta.get("min"), meta.get("max")
            if low is not None:
                below = typ(low) - 1
                cases.append(Case(section, spec.name, below, "below minimum", "below the minimum"))
            if high is not None:
                above = typ(high) + 1
                cases.append(Case(section, spec.name, above, "above maximum", "above the maximum"))
            if meta.get("choices") is not None:
                cases.append(Case(section, spec.name, BAD_CHOICE, "not a choice", "allowed values"))
            if meta.get("file_name"):
                cases.append(Case(section, spec.name, "", "no file name", "names no file"))
    return cases


CASES = generate_cases()


def test_every_key_has_a_wrong_type_case_and_every_bound_a_range_case() -> None:
    """The generator keeps up with edge/config.py: nothing declared is left untested."""
    for section, cls in SECTIONS.items():
        for spec in dataclasses.fields(cls):
            mine = [c for c in CASES if (c.section, c.key) == (section, spec.name)]
            assert any(c.why == "wrong type" for c in mine), (section, spec.name)
            if spec.metadata.get("min") is not None:
                assert any(c.why == "below minimum" for c in mine), (section, spec.name)
            if spec.metadata.get("max") is not None:
                assert any(c.why == "above maximum" for c in mine), (section, spec.name)
            if spec.metadata.get("choices") is not None:
                assert any(c.why == "not a choice" for c in mine), (section, spec.name)
            if spec.metadata.get("file_name"):
                assert any(c.why == "no file name" for c in mine), (section, spec.name)
    assert len(CASES) > 100


@pytest.fixture
def restore_logging():
    """cli.main() points the root logger at the captured stderr; put it back afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_line(code: int, out: str, err: str, *needles: str) -> str:
    """Exit code 2, nothing on stdout, exactly one line on stderr containing every needle."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert out == ""
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("sign2sound check-config: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_value_in_the_config_file_is_named(
    case: Case, tmp_path: Path, capsys, restore_logging
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({case.section: {case.key: case.value}}))
    code, out, err = run_cli(["check-config", "--config", str(path)], capsys)
    assert_one_clear_line(code, out, err, str(path), f"{case.section}.{case.key}", case.expected)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_value_given_with_set_is_named(case: Case, capsys, restore_logging) -> None:
    value = yaml.safe_dump(case.value, default_flow_style=True).strip().removesuffix("...")
    override = f"{case.section}.{case.key}={value.strip()}"
    code, out, err = run_cli(["check-config", "--set", override], capsys)
    named = f"--set {case.section}.{case.key}: "
    line = assert_one_clear_line(code, out, err, named, case.expected)
    assert "config.yaml" not in line  # the file is fine: the message points at the --set


def test_an_unknown_key_in_every_section_is_named_with_the_allowed_ones(
    tmp_path: Path, capsys, restore_logging
) -> None:
    for section, cls in SECTIONS.items():
        path = tmp_path / f"{section}.yaml"
        path.write_text(f"{section}:\n  no_such_key: 1\n")
        code, out, err = run_cli(["check-config", "--config", str(path)], capsys)
        some_key = dataclasses.fields(cls)[0].name
        assert_one_clear_line(
            code, out, err, str(path), f"unknown key '{section}.no_such_key'", some_key
        )
        code, out, err = run_cli(["check-config", "--set", f"{section}.no_such_key=1"], capsys)
        assert_one_clear_line(code, out, err, f"unknown key '{section}.no_such_key'")


# text of the file, what the message must say (the line number for YAML that does not parse)
BAD_FILES = {
    "empty": ("", "the file is empty"),
    "only comments": ("# decoder:\n#   threshold: 0.8\n", "the file is empty"),
    "unknown section": ("speaker:\n  voice: en\n", "unknown section 'speaker'"),
    "top level is a list": ("- decoder\n- speech\n", "top level must be a mapping"),
    "section is a number": ("decoder: 5\n", "section 'decoder' must be a mapping"),
    "unclosed bracket": ("decoder:\n  threshold: [0.5\n", "YAML does not parse at line 3"),
    "tab indentation": ("decoder:\n\tthreshold: 0.8\n", "YAML does not parse at line 2"),
    "unclosed quote": ('speech:\n  voice: "en-us\n', "YAML does not parse at line 3"),
    "bad indentation": (
        "decoder:\n  threshold: 0.8\n hold_s: 1\n",
        "YAML does not parse at line 3",
    ),
    "colon in a value": ("decoder:\n  threshold: 0.8: 1\n", "YAML does not parse at line 2"),
    "python tag": ("decoder:\n  threshold: !!python/object:os.system x\n", "at line 2"),
    "key written twice": (
        "decoder:\n  threshold: 0.8\n  hold_s: 0.4\n  threshold: 0.9\n",
        "line 4, column 3: key 'threshold' appears twice (first at line 2)",
    ),
    "not UTF-8": (b"decoder:\n  threshold: 0.8 # r\xe9glage\n", "line 2 is not UTF-8"),
    "retry bounds crossed": (
        "camera:\n  retry_initial_s: 5\n  retry_max_s: 1\n",
        "camera.retry_max_s (1.0) must not be below camera.retry_initial_s (5.0)",
    ),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_config_file_is_one_line_naming_the_file_and_line(
    name: str, tmp_path: Path, capsys, restore_logging
) -> None:
    text, expected = BAD_FILES[name]
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    code, out, err = run_cli(["check-config", "--config", str(path)], capsys)
    assert_one_clear_line(code, out, err, str(path), expected)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("decoder.threshold", "expected section.key=value"),
        ("threshold=0.8", "expected section.key=value"),
        ("decoder.threshold=[0.5", "value is not valid YAML"),
        ("speaker.voice=en", "unknown section 'speaker'"),
    ],
)
def test_a_malformed_set_is_named(override: str, expected: str, capsys, restore_logging) -> None:
    code, out, err = run_cli(["check-config", "--set", override], capsys)
    assert_one_clear_line(code, out, err, expected)


def test_config_paths_that_are_missing_or_not_files(
    tmp_path: Path, capsys, restore_logging
) -> None:
    missing = tmp_path / "nope.yaml"
    code, out, err = run_cli(["check-config", "--config", str(missing)], capsys)
    assert_one_clear_line(code, out, err, str(missing), "config file not found")
    code, out, err = run_cli(["check-config", "--config", str(tmp_path)], capsys)
    assert_one_clear_line(code, out, err, str(tmp_path), "cannot read config file")


# configs that parse but cannot work: check-config (the installer's gate) loads and probes what
# they name and says what it could not check
CANNOT_WORK = {
    "classifier model missing": (
        ["classifier.model={tmp}/gone.tflite"],
        "gone.tflite: model file not found",
    ),
    "hand model missing": (
        ["landmarks.model={tmp}/gone.task", "camera.source={video}"],
        "gone.task: file not found",
    ),
    "video file missing": (["camera.source={tmp}/gone.mp4"], "gone.mp4: no such file"),
    "replay missing": (["camera.source=replay:{tmp}/gone.csv"], "gone.csv: no such file"),
    "voice not installed": (["speech.voice=xx-nope"], "espeak-ng (voice 'xx-nope') failed"),
    "transcript folder cannot exist": (
        ["transcript.path=/proc/sign2sound/t.txt"],
        "transcript.path: /proc/sign2sound/t.txt: cannot create files in /proc",
    ),
    "transcript path is a folder": (["transcript.path={tmp}"], "is a folder; name a file in it"),
}


@pytest.mark.parametrize("name", list(CANNOT_WORK))
def test_check_config_refuses_what_cannot_work_in_one_line(
    name: str, tmp_path: Path, capsys, restore_logging
) -> None:
    sets, expected = CANNOT_WORK[name]
    argv = ["check-config", "--set", f"camera.source=replay:{DEMO_CSV}"]
    for text in sets:
        argv += ["--set", text.format(tmp=tmp_path, video=DEMO_CSV.with_name("hello.mp4"))]
    code, out, err = run_cli(argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith("sign2sound check-config:")]
    assert code == 1, err
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err
    assert out.rstrip().endswith("1 problem(s), see above")


def test_check_config_reports_every_problem_and_what_it_did_not_check(
    tmp_path: Path, capsys, restore_logging
) -> None:
    code, out, err = run_cli(
        ["check-config", "--set", "speech.voice=xx-nope", "--set", f"transcript.path={tmp_path}",
         "--set", "gpio.pin=17"],
        capsys,
    )  # fmt: skip
    errors = [line for line in err.splitlines() if line.startswith("sign2sound check-config:")]
    assert code == 1 and len(errors) == 2, err
    assert "# ok: landmarks.model models/hand_landmarker.task: sha256 matches" in out
    for unchecked in ("camera.source 'auto'", "speech.alsa_device 'default'", "gpio.pin 17"):
        assert f"# not checked: {unchecked}" in out
    assert "# config.yaml: 2 problem(s)" in out


def test_check_config_passes_the_shipped_config(tmp_path: Path, capsys, restore_logging) -> None:
    code, out, err = run_cli(
        ["check-config", "--set", f"transcript.path={tmp_path / 'new' / 't.txt'}"], capsys
    )
    assert code == 0, err
    assert out.rstrip().endswith("# config.yaml: OK")
    assert "sha256 of both matches models/SHA256SUMS, LiteRT loads it" in out
    assert "speech.voice 'en-us': espeak-ng speaks it" in out
    assert not (tmp_path / "new").exists()  # probed, not created


# one real process per kind of mistake: what the user sees from `sign2sound run`
PROCESS_CASES = {
    "wrong type": ("decoder:\n  threshold: high\n", [], "decoder.threshold: expected a number"),
    "out of range": ("gpio:\n  pin: 40\n", [], "gpio.pin: 40 is above the maximum 27"),
    "unknown key": ("decoder:\n  treshold: 0.8\n", [], "unknown key 'decoder.treshold'"),
    "empty file": ("", [], "the file is empty"),
    "YAML does not parse": ("decoder:\n  threshold: [0.5\n", [], "does not parse at line 3"),
    "bad --set": ("decoder:\n  threshold: 0.8\n", ["--set", "speech.rate_wpm=fast"], "rate_wpm"),
}


@pytest.mark.parametrize("name", list(PROCESS_CASES))
def test_sign2sound_run_process_exits_2_with_one_line(name: str, tmp_path: Path) -> None:
    text, extra, expected = PROCESS_CASES[name]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("sign2sound run: error: ") and expected in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "transcript.txt").exists()  # nothing started


# inputs that only turn out bad at run time: exit code 1, still one line naming the thing
def _bad_replay(tmp_path: Path) -> Path:
    lines = DEMO_CSV.read_text().splitlines()
    lines[3] = lines[3].replace(",", ",oops", 1)
    path = tmp_path / "replay.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _edited_replay(tmp_path: Path, edit) -> Path:
    """The demo replay with its lines (header first) changed by `edit(lines)`."""
    lines = DEMO_CSV.read_text().splitlines()
    edit(lines)
    path = tmp_path / "replay.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cut_short(lines: list[str]) -> None:
    lines[5] = lines[5][: len(lines[5]) // 2]  # a copy that stopped mid-line


def _time_backwards(lines: list[str]) -> None:
    t_ms = lines[0].split(",").index("t_ms")
    cells = lines[40].split(",")
    cells[t_ms] = "5"  # frame 40-ish recorded as if 5 ms after the start
    lines[40] = ",".join(cells)


def _replay_run(path: Path) -> list[str]:
    return ["run", "--set", f"camera.source=replay:{path}", "--set", "camera.realtime=false"]


RUNTIME_CASES = {
    "replay with a line cut short": (
        lambda tmp: _replay_run(_edited_replay(tmp, _cut_short)),
        "replay.csv, line 6: ",
    ),
    "replay whose times run backwards": (
        lambda tmp: _replay_run(_edited_replay(tmp, _time_backwards)),
        "replay.csv, line 41: t_ms 5 of frame",
    ),
    "no word reached the transcript": (
        lambda tmp: [
            *_replay_run(DEMO_CSV),
            "--set",
            "speech.enabled=false",
            "--set",
            "transcript.path=/dev/full",
        ],  # fmt: skip
        "1 of 1 word(s) did not reach the transcript /dev/full; they are only in the log",
    ),
    "video file missing": (
        lambda tmp: ["run", "--set", f"camera.source={tmp / 'gone.mp4'}"],
        "gone.mp4: no such file",
    ),
    "replay with a broken line": (
        lambda tmp: ["run", "--set", f"camera.source=replay:{_bad_replay(tmp)}"],
        "replay.csv, line 4: not a number",
    ),
    "button pin on a machine without GPIO": (
        lambda tmp: ["run", "--set", "gpio.pin=17", "--set", f"camera.source=replay:{DEMO_CSV}"],
        "gpio.pin 17",
    ),
    "demo WAV in a folder that cannot exist": (
        lambda tmp: ["demo", "--replay", "--wav", "/proc/sign2sound/out.wav"],
        "cannot write the speech WAV /proc/sign2sound/out.wav",
    ),
}


@pytest.mark.parametrize("name", list(RUNTIME_CASES))
def test_bad_runtime_input_is_one_line_exit_1(
    name: str, tmp_path: Path, capsys, restore_logging, monkeypatch
) -> None:
    make_argv, expected = RUNTIME_CASES[name]
    monkeypatch.chdir(tmp_path)
    argv = make_argv(tmp_path)
    if argv[0] == "run":
        argv[1:1] = ["--allow-root", "--set", f"transcript.path={tmp_path / 't.txt'}"]
    code, _, err = run_cli(argv, capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 1, err
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "t.txt").exists()  # nothing was spelled into a transcript


# offline tools: an output path that cannot be written, or would be silently replaced, is one line
# naming it (exit 1) before any work is done
CLIP_CSV = Path(__file__).parent / "fixtures" / "lart101_H_clip.csv"
DEMO_VIDEO = DEMO_CSV.with_name("hello.mp4")


def _existing(tmp: Path, name: str = "out.csv") -> Path:
    path = tmp / name
    path.write_text("keep me\n")
    return path


OUTPUT_CASES = {
    "eval --out an existing file": (
        lambda tmp: ["eval", str(CLIP_CSV), "--out", str(_existing(tmp, "report"))],
        "report: exists and is not a folder",
    ),
    "eval --out a folder that cannot be made": (
        lambda tmp: ["eval", str(CLIP_CSV), "--out", "/proc/sign2sound/eval"],
        "/proc/sign2sound/eval: cannot write there: cannot create files in /proc",
    ),
    "convert-data video --out an unwritable path": (
        lambda tmp: [
            "convert-data",
            "video",
            str(DEMO_VIDEO),
            "--label",
            "H",
            "--out",
            "/proc/sign2sound/h.csv",
        ],  # fmt: skip
        "/proc/sign2sound/h.csv: cannot write it: cannot create files in /proc",
    ),
    "convert-data video --out an existing CSV": (
        lambda tmp: [
            "convert-data",
            "video",
            str(DEMO_VIDEO),
            "--label",
            "H",
            "--out",
            str(_existing(tmp)),
        ],  # fmt: skip
        "out.csv: already exists; pass --force to overwrite it",
    ),
    "convert-data raw --out an existing CSV": (
        lambda tmp: [
            "convert-data",
            "raw",
            str(tmp),
            "--source",
            "me",
            "--out",
            str(_existing(tmp)),
        ],
        "out.csv: already exists; pass --force to overwrite it",
    ),
}


@pytest.mark.parametrize("name", list(OUTPUT_CASES))
def test_an_output_that_cannot_be_written_is_one_line_before_any_work(
    name: str, tmp_path: Path, capsys, restore_logging
) -> None:
    make_argv, expected = OUTPUT_CASES[name]
    code, out, err = run_cli(make_argv(tmp_path), capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 1, err
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err
    assert "windows" not in out and "frames" not in out  # refused before evaluating / converting
    for path in tmp_path.iterdir():
        assert path.read_text() == "keep me\n"  # nothing replaced


def test_convert_data_video_overwrites_only_with_force(tmp_path: Path, capsys, restore_logging):
    out = _existing(tmp_path)
    argv = ["convert-data", "video", str(DEMO_VIDEO), "--label", "H", "--out", str(out), "--force"]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out.read_text().startswith("label,x0,y0,z0,")
    assert "with a hand -> " in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file left


def test_a_byte_order_mark_and_1e0_are_read_as_people_write_them(
    tmp_path: Path, capsys, restore_logging
) -> None:
    """Spreadsheet programs start a CSV with a UTF-8 byte-order mark; 1e0 is a number."""
    bom_data = tmp_path / "letters.csv"
    bom_data.write_bytes(b"\xef\xbb\xbf" + CLIP_CSV.read_bytes())
    code, out, err = run_cli(["convert-data", "check", str(bom_data)], capsys)
    assert code == 0, err
    assert "rows OK" in out
    bom_replay = tmp_path / "replay.csv"
    bom_replay.write_bytes(b"\xef\xbb\xbf" + DEMO_CSV.read_bytes())
    code, out, err = run_cli(
        [*_replay_run(bom_replay), "--allow-root", "--set", "speech.enabled=false",
         "--set", f"transcript.path={tmp_path / 't.txt'}"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "t.txt").read_text().split("\t")[1].strip() == "HELLO"
    config = tmp_path / "config.yaml"
    config.write_text("decoder:\n  hold_s: 4e-1\n")
    code, out, err = run_cli(
        ["check-config", "--config", str(config), "--set", "decoder.threshold=1e0",
         "--set", f"camera.source=replay:{DEMO_CSV}", "--set", f"transcript.path={tmp_path / 't'}"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "threshold: 1.0\n" in out and "hold_s: 0.4\n" in out
