"""Process-level service concerns: signals routed into the main loop, and refusing to run as root.

Signal handlers only set flags and write one byte to a self-pipe; the processing loop checks the
flags between frames and does the real work (flush the transcript, drain speech, close the camera)
in normal code. Nothing heavy, no lock and no logging happens inside a handler, so a signal that
lands at any moment cannot deadlock or corrupt the loop (threading.Event.set in a handler can
deadlock on the Event's own lock). The pipe is also signal.set_wakeup_fd, so
`ServiceSignals.sleep()` (a camera retry backoff, an idle wait) ends at once on SIGTERM even when
the kernel delivered the signal to the capture or speech thread.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import threading
import weakref
from types import FrameType, TracebackType
from typing import Any

from edge.errors import UsageError

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNALS = (signal.SIGHUP,)


def _close_fds(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


class ServiceSignals:
    """SIGTERM/SIGINT -> stop flag, SIGHUP -> reload flag; a context manager restoring old handlers.

    A second SIGINT while stopping raises KeyboardInterrupt (Ctrl-C twice = stop now); the words
    already completed are on disk either way because the transcript is fsync'd per word.
    """

    def __init__(self) -> None:
        self.stop_signal: int | None = None
        self._stop = False
        self._reload = False
        self._previous: dict[int, Any] = {}
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        # Closed when the object goes away, not on __exit__: a late request_stop() from another
        # thread must never write into a file descriptor number the process has reused.
        weakref.finalize(self, _close_fds, self._read_fd, self._write_fd)
        self._installed = False
        self._previous_wakeup_fd = -1

    # --- what the main loop uses -------------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def stop_reason(self) -> str:
        """E.g. 'SIGTERM' for the log line the loop writes when it stops."""
        if self.stop_signal is None:
            return "request" if self._stop else ""
        return signal.Signals(self.stop_signal).name

    def take_reload(self) -> bool:
        """True once per SIGHUP (several SIGHUPs before the loop looks count as one reload)."""
        requested, self._reload = self._reload, False
        return requested

    def request_stop(self) -> None:
        """Stop from code (a fatal stage, a test); same path as SIGTERM."""
        self._stop = True
        self._wake()

    def request_reload(self) -> None:
        self._reload = True
        self._wake()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on any signal; returns True if stop was requested."""
        if not self._stop and seconds > 0:
            select.select([self._read_fd], [], [], seconds)
            self._drain()
        return self._stop

    # --- handlers -----------------------------------------------------------------------------
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum in RELOAD_SIGNALS:
            self._reload = True
        else:
            if self._stop and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop = True
            self.stop_signal = signum
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full pipe: wake-ups are pending anyway
            os.write(self._write_fd, b"\0")

    def _drain(self) -> None:
        try:
            while os.read(self._read_fd, 512):
                pass
        except BlockingIOError:
            pass

    def __enter__(self) -> ServiceSignals:
        if threading.current_thread() is not threading.main_thread():
            # Python only delivers signals to the main thread; in-process tests that run the
            # loop in a thread use request_stop()/request_reload() instead.
            log.debug("not in the main thread: signal handlers not installed")
            return self
        for signum in STOP_SIGNALS + RELOAD_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        # The C-level handler writes to this fd from whichever thread the kernel picked, so
        # sleep() wakes even when the signal did not interrupt the main thread's select().
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._installed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            self._previous.clear()
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            self._installed = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--allow-root` for commands that run the device (same as service.allow_root: true)."""
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="run even as root (not recommended; the service runs as the 'sign2sound' user)",
    )


def apply_config_log_level(config: Any, log_level: str | None) -> bool:
    """service.log_level of the config, unless --log-level gave one (it wins), for the log and
    the native libraries (DEBUG shows their lines). True when the config decides the level, so
    a reload (SIGHUP) may change it."""
    if log_level is not None:
        return False
    from edge import nativelog

    logging.getLogger().setLevel(config.service.log_level)
    nativelog.configure_environment()
    return True


def refuse_root(allow_root: bool, euid: int | None = None) -> None:
    """Raise a UsageError (exit 2, so systemd does not restart-loop) when root is not allowed.

    The daemon reads a camera and plays audio; as root a bug could touch the whole system. The
    service runs as the unprivileged `sign2sound` user with the video, gpio and audio groups.
    """
    uid = os.geteuid() if euid is None else euid
    if uid == 0 and not allow_root:
        raise UsageError(
            "refusing to run as root: run as an unprivileged user in the video, gpio and audio "
            "groups (systemd/install.sh creates 'sign2sound'), or set service.allow_root: true "
            "in the config, or pass --allow-root"
        )
    if uid == 0:
        log.warning("running as root because service.allow_root / --allow-root says so")
