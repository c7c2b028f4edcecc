"""A quiet console: the native libraries' lines (LiteRT, XNNPACK, MediaPipe, OpenCV, FFmpeg) go
to the log at DEBUG, never onto the demo's console; and the causes that can be fixed are fixed
(the hand-landmark bundles' members aligned, so LiteRT reads their tensors in place).

The demo and the daemon run as real processes, as a user starts them; the bundles and the
classifier are the shipped files.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge import nativelog
from edge.tflite_alignment import stored_members, unaligned_tensors

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
SIGN2SOUND = Path(sys.executable).parent / "sign2sound"
# one line of our own logging on a terminal: "14:05:03 INFO edge.daemon: ..."
OWN_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
NATIVE_MARKERS = ("XNNPACK", "W0000", "LiteRT", "InitGoogle", "NORM_RECT", "moov atom")


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in nativelog.QUIET_ENVIRONMENT}
    env.pop("JOURNAL_STREAM", None)  # terminal format, as a user sees it
    return subprocess.run(
        [str(SIGN2SOUND), *argv], capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


# -- the console, as a user sees it -----------------------------------------------------------
@pytest.mark.parametrize("replay", [False, True], ids=["video", "replay"])
def test_demo_prints_only_its_own_lines(tmp_path: Path, replay: bool) -> None:
    """README's demo: the result line and the WAV line, nothing on stderr."""
    wav = tmp_path / "demo.wav"
    result = run(["demo", "--wav", str(wav), *(["--replay"] if replay else [])], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = result.stdout.splitlines()
    assert first == "spelling the bundled sample (HELLO): H E L L O -> HELLO"
    assert re.fullmatch(rf"speech written to {re.escape(str(wav))} \(\d+\.\d s\)", second)
    assert result.stderr == ""


def test_debug_still_shows_the_native_lines(tmp_path: Path) -> None:
    """--log-level DEBUG: the same native lines reach the log, each as one of our log lines."""
    result = run(["demo", "--log-level", "DEBUG", "--wav", str(tmp_path / "d.wav")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    native = [ln for ln in result.stderr.splitlines() if " edge.native: " in ln]
    assert any("LiteRT: INFO: Created TensorFlow Lite XNNPACK delegate" in ln for ln in native)
    assert any("MediaPipe: " in ln and "landmark_projection_calculator" in ln for ln in native)
    assert any("DestroyAccelerator" in ln for ln in native)  # closing MediaPipe at the end
    assert all(OWN_LOG_LINE.match(ln) for ln in native)
    # the cause fixed, not hidden: the aligned bundle gives no "copying to an aligned buffer"
    assert not any("unaligned buffer" in ln for ln in result.stderr.splitlines())


def test_ffmpeg_is_quiet_unless_debug(tmp_path: Path) -> None:
    """A truncated video: our one error line, not FFmpeg's "moov atom not found" beside it."""
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((MODELS / "demo" / "hello.mp4").read_bytes()[:20000])
    argv = ["run", "--allow-root", "--set", f"camera.source={cut}"]
    quiet = run(argv, tmp_path)
    assert quiet.returncode != 0
    lines = quiet.stderr.splitlines()
    assert f"sign2sound run: error: video file {cut}: cannot decode it as a video" in lines
    assert not [ln for ln in lines if any(m in ln for m in NATIVE_MARKERS)], lines
    loud = run([*argv, "--log-level", "DEBUG"], tmp_path)
    assert "moov atom not found" in loud.stderr


# -- edge.nativelog itself --------------------------------------------------------------------
@pytest.fixture
def native_debug(caplog: pytest.LogCaptureFixture):
    """edge.native at DEBUG into caplog only: a handler an earlier in-process cli.main() left on
    the root logger (on a closed capture stream) would print a logging error to fd 2."""
    caplog.set_level(logging.DEBUG, logger="edge.native")
    root = logging.getLogger()
    others = [h for h in root.handlers if h is not caplog.handler]
    for handler in others:
        root.removeHandler(handler)
    yield caplog
    for handler in others:
        root.addHandler(handler)


def test_captured_moves_fd2_into_the_log(native_debug, capfd) -> None:
    """C code writing to fd 2 (as LiteRT and MediaPipe do; TFLite prints its XNNPACK line only
    once per process, so libc's dprintf stands in here; the demo tests above see the real ones)."""
    libc = ctypes.CDLL(None)
    os.write(2, b"before\n")
    with nativelog.captured("lib"):
        libc.dprintf(2, b"from C: %d\n", ctypes.c_int(42))
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"  # the line did not reach fd 2...
    records = [r for r in native_debug.records if r.name == "edge.native"]
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.DEBUG, "lib: from C: 42")]


def test_a_failing_call_keeps_its_native_lines_at_warning(native_debug) -> None:
    with pytest.raises(RuntimeError), nativelog.captured("lib"):
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    assert [(r.levelno, r.getMessage()) for r in native_debug.records] == [
        (logging.WARNING, "lib: why it failed")
    ]


def test_our_own_log_lines_are_not_captured(capfd) -> None:
    """A line another thread logs while fd 2 is redirected still reaches the real stderr."""
    from edge.logs import StderrHandler

    handler = StderrHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    other = logging.getLogger("test_quiet.other")
    other.addHandler(handler)
    other.propagate = False
    try:
        with nativelog.captured("lib"):
            os.write(2, b"native noise\n")
            thread = threading.Thread(target=other.error, args=("camera lost",))
            thread.start()
            thread.join()
    finally:
        other.removeHandler(handler)
    assert capfd.readouterr().err == "ERROR camera lost\n"


def test_faulthandler_dump_reaches_stderr_during_a_capture(tmp_path: Path) -> None:
    """PYTHONFAULTHANDLER (the unit sets it): a crash inside a capture still prints the stack."""
    code = (
        "import faulthandler\n"
        "from edge import nativelog\n"
        "with nativelog.captured('lib'):\n"
        "    faulthandler._sigsegv()\n"
    )
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0
    assert "Fatal Python error: Segmentation fault" in result.stderr


def test_environment_knobs_are_set_quiet_and_taken_back_for_debug(monkeypatch) -> None:
    for key in nativelog.QUIET_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "INFO")  # the user's own choice is kept
    native = logging.getLogger("edge.native")
    level = native.level
    try:
        native.setLevel(logging.INFO)
        nativelog.configure_environment()
        assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "-8"
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
        assert os.environ["OPENCV_LOG_LEVEL"] == "INFO"
        native.setLevel(logging.DEBUG)
        nativelog.configure_environment()
        assert "OPENCV_FFMPEG_LOGLEVEL" not in os.environ
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
        assert os.environ["OPENCV_LOG_LEVEL"] == "INFO"
    finally:
        native.setLevel(level)


# -- the causes: aligned tensor buffers -------------------------------------------------------
@pytest.mark.parametrize("bundle", ["hand_landmarker.task", "hand_landmarker_lite.task"])
def test_hand_landmark_bundles_have_every_tensor_aligned(bundle: str) -> None:
    members = stored_members(MODELS / bundle)
    assert set(members) == {"hand_detector.tflite", "hand_landmarks_detector.tflite"}
    for name, (offset, data) in members.items():
        assert offset % 64 == 0, name
        assert unaligned_tensors(data, offset) == [], name


def test_the_check_finds_what_mediapipe_complained_about() -> None:
    """The palm detector at byte 50, where plain `zip` had put it: the tensor MediaPipe named
    ("Read-only tensor #3 (model_1/model/up_sampling2d_1/mul) has an unaligned buffer")."""
    _, palm = stored_members(MODELS / "hand_landmarker.task")["hand_detector.tflite"]
    problems = unaligned_tensors(palm, 50)
    assert problems[0].startswith("#3 (model_1/model/up_sampling2d_1/mul): byte ")
    assert problems[0].endswith("needs a multiple of 4")


def test_shipped_and_exported_classifiers_are_aligned() -> None:
    from edge.dataset import load_landmark_csv
    from edge.training.export import convert
    from edge.training.models import build_model
    from edge.training.windows import held_windows

    assert unaligned_tensors((MODELS / "letters_int8.tflite").read_bytes()) == []
    table = load_landmark_csv(REPO / "tests" / "fixtures" / "letters_small.csv")
    labels = ("A", "B", "L", "V", "Y", "_")
    calibration = held_windows(table, seed=1, labels=labels).x[:16]  # real landmark windows
    steps, channels = calibration.shape[1:]  # the window the classifier takes
    model = build_model("cnn", steps, channels, len(labels))
    assert unaligned_tensors(convert(model, "int8", calibration)) == []
