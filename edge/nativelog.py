"""The native libraries' console output (LiteRT, XNNPACK, MediaPipe, OpenCV, FFmpeg) into the log.

These libraries print from C++ straight to file descriptor 2, beside Python's logging:
`--log-level ERROR` cannot stop them, on a terminal they land in the middle of the demo's result
line and in the journal they outnumber the daemon's own lines. Two remedies, each where it works:

- environment knobs, set before the library is imported, for the libraries that read one
  (`configure_environment`): OpenCV's own warnings, FFmpeg's through OpenCV, TensorFlow's;
- for the ones that read none (TFLite's "Created TensorFlow Lite XNNPACK delegate", LiteRT's
  environment lines, MediaPipe's absl warnings), fd 2 is redirected into a buffer around the
  calls that print (`captured`: creating an interpreter or a HandLandmarker, its first frame,
  closing it) and each line goes to the `edge.native` logger at DEBUG (WARNING if the call
  failed, so the library's own explanation is not lost).

So `--log-level DEBUG` shows them all: the knobs are not set then, and the captured lines are
logged. While fd 2 is redirected, `write_console` gives Python's log handler the real stderr, so a
line another thread logs meanwhile is never swallowed; faulthandler (PYTHONFAULTHANDLER, the
watchdog's stack dump) is pointed there too. What a library prints in such a window just before
it kills the process (a native abort) is lost with the buffer; outside the windows, native
output reaches stderr untouched.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger("edge.native")

# What each library reads itself, at import or first use. Checked one by one: OPENCV_LOG_LEVEL
# silences "[ WARN:0@…] … can't open camera by index", OPENCV_FFMPEG_LOGLEVEL=-8 (AV_LOG_QUIET)
# "[mov,mp4 @ 0x…] moov atom not found", TF_CPP_MIN_LOG_LEVEL=2 TensorFlow's INFO and WARNING
# lines after import (train, export). LiteRT, XNNPACK and MediaPipe 1.x ignore TF_CPP_MIN_LOG_LEVEL,
# GLOG_minloglevel and the like, hence `captured`.
QUIET_ENVIRONMENT = {
    "OPENCV_LOG_LEVEL": "ERROR",
    "OPENCV_FFMPEG_LOGLEVEL": "-8",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
_set_here: dict[str, str] = {}

_lock = threading.Lock()
_depth = 0  # nested or overlapping captures (two threads) share one redirect
_console_fd: int | None = None  # the real fd 2 while it is redirected
_buffer_fd: int | None = None
_faulthandler_moved = False


def verbose() -> bool:
    """True when the libraries' own lines are wanted (DEBUG enabled for edge.native)."""
    return log.isEnabledFor(logging.DEBUG)


def configure_environment() -> None:
    """Set the knobs of QUIET_ENVIRONMENT, or with DEBUG on take back the ones set here.

    Call it once the log level is final and before OpenCV or TensorFlow is imported; a value the
    user set in the environment is never touched.
    """
    if verbose():
        for key, value in list(_set_here.items()):
            if os.environ.get(key) == value:
                del os.environ[key]
            del _set_here[key]
        return
    for key, value in QUIET_ENVIRONMENT.items():
        if key not in os.environ:
            os.environ[key] = value
            _set_here[key] = value


@contextlib.contextmanager
def captured(what: str) -> Iterator[None]:
    """Native output to fd 2 inside the block goes to the log as `<what>: <line>` at DEBUG."""
    _begin()
    level = logging.DEBUG
    try:
        yield
    except BaseException:
        level = logging.WARNING
        raise
    finally:
        for line in _end().splitlines():
            if line.strip():
                log.log(level, "%s: %s", what, line.rstrip())


def write_console(text: str) -> bool:
    """Write `text` to the real stderr if fd 2 is redirected right now; False if it is not."""
    with _lock:
        if _console_fd is None:
            return False
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(_console_fd, data) :]
        return True


def _begin() -> None:
    global _depth, _console_fd, _buffer_fd, _faulthandler_moved
    with _lock:
        if _depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            buffer_fd = _new_buffer()
            console_fd = os.dup(2)
            os.dup2(buffer_fd, 2)
            _console_fd, _buffer_fd = console_fd, buffer_fd
            _faulthandler_moved = faulthandler.is_enabled()
            if _faulthandler_moved:
                faulthandler.enable(file=console_fd, all_threads=True)
        _depth += 1


def _end() -> str:
    """Undo the redirect when the last capture ends; the text captured (else '')."""
    global _depth, _console_fd, _buffer_fd
    with _lock:
        _depth -= 1
        if _depth:
            return ""
        console_fd, buffer_fd = _console_fd, _buffer_fd
        assert console_fd is not None and buffer_fd is not None
        os.dup2(console_fd, 2)
        if _faulthandler_moved:
            faulthandler.enable(file=2, all_threads=True)  # stderr's fd again, before it closes
        os.close(console_fd)
        _console_fd = _buffer_fd = None
    try:
        os.lseek(buffer_fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(buffer_fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(buffer_fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _new_buffer() -> int:
    """An anonymous file: never blocks the writer (a pipe would once full), needs no folder."""
    try:
        return os.memfd_create("sign2sound-native", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or memfd_create filtered out
        fd, path = tempfile.mkstemp(prefix="sign2sound-native-")
        os.unlink(path)
        return fd
