"""Small shared pieces of the reliability tests (test_faults, test_soak, test_privacy).

Everything here builds REAL inputs: configs from the real config.yaml, landmark streams cut from
the bundled recording of HELLO (models/demo/hello_landmarks.csv, real MediaPipe landmarks of one
signer, see models/demo/README.md), and a real AF_UNIX datagram socket standing in for systemd.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from edge.bench.replay import repeat_landmark_csv
from edge.config import REPO_ROOT, Config, load_config
from edge.sdnotify import SystemdNotifier

DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
DEMO_VIDEO = REPO_ROOT / "models" / "demo" / "hello.mp4"
DEMO_FPS = 15.0


def make_config(tmp_path: Path, **sections: dict) -> Config:
    """The shipped defaults with the transcript in tmp_path and the given sections changed."""
    config = load_config()
    changes = {"transcript": {"path": str(tmp_path / "transcript.txt")}, **sections}
    for name, values in changes.items():
        section = dataclasses.replace(getattr(config, name), **values)
        config = dataclasses.replace(config, **{name: section})
    return config


def transcript_words(path: Path) -> list[str]:
    """The words of a transcript file, in order ([] when the file does not exist)."""
    if not path.exists():
        return []
    return [line.split("\t")[1] for line in path.read_text(encoding="utf-8").splitlines()]


def repeated_replay_csv(
    path: Path,
    repeats: int,
    gap_frames: int = 30,
    edit: Callable[[int, dict[str, str]], None] | None = None,
) -> Path:
    """The recorded HELLO `repeats` times as one sequence, each copy starting `gap_frames` (2 s at
    15 fps) after the previous one ends, so every word ends because the hand is gone. `edit(i,
    row)` may change row i (0-based over the whole stream) in place, e.g. to inject NaN."""
    return repeat_landmark_csv(
        DEMO_CSV, path, repeats, gap_frames=gap_frames, sequence="soak", edit=edit
    )[0]


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET, drained by a
    thread as systemd would: a datagram socket nobody reads fills after a few messages, and then
    the daemon's blocking sendto() would wait (or fail) instead of the test reading it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self._received: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="notify-socket", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._received.append(data.decode())

    def messages(self) -> list[str]:
        """Every datagram received so far, in order."""
        with self._lock:
            return list(self._received)

    def close(self) -> None:
        """Read what is still queued, then close the socket; `messages()` stays available."""
        self._closed.set()
        self._thread.join(5)
        self.sock.setblocking(False)
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                break
            with self._lock:
                self._received.append(data.decode())
        self.sock.close()


class WatchedNotifier(SystemdNotifier):
    """The real notifier (datagrams to a NotifySocket) that also lets a test wait until a STATUS=
    line containing some text has been sent, instead of sleeping and hoping."""

    def __init__(self, address: str, watchdog_usec: int | None = None) -> None:
        super().__init__(address, watchdog_usec)
        self.statuses: list[str] = []
        self._cond = threading.Condition()

    def status(self, text: str) -> bool:
        with self._cond:
            self.statuses.append(text)
            self._cond.notify_all()
        return super().status(text)

    def wait_for_status(self, needle: str, since: int, timeout: float = 30.0) -> bool:
        """Wait until a STATUS sent after the first `since` ones contains `needle`."""
        with self._cond:
            return self._cond.wait_for(
                lambda: any(needle in s for s in self.statuses[since:]), timeout
            )


class DaemonProcess:
    """`sign2sound run` as a real process (as systemd starts it), its log read line by line on a
    thread so a test can wait for a line, send a real signal and then look at what came after."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys

        exe = Path(sys.executable).parent / "sign2sound"
        base = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        self.proc = subprocess.Popen(
            [str(exe), "run", "--allow-root", *args],
            cwd=cwd,
            env={**base, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="daemon-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, needle: str, count: int = 1, timeout: float = 60.0) -> int:
        """Wait until `count` log lines contain `needle`; returns the index of the last of them."""

        def found() -> list[int]:
            return [i for i, line in enumerate(self.lines) if needle in line]

        with self._cond:
            ok = self._cond.wait_for(
                lambda: len(found()) >= count or not self._reader.is_alive(), timeout
            )
            hits = found()
            if not ok or len(hits) < count:
                raise AssertionError(
                    f"no {count} line(s) with {needle!r} in the daemon's log:\n"
                    + "\n".join(self.lines[-40:])
                )
            return hits[count - 1]

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        """A test that failed half-way leaves no daemon behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120.0) -> int:
        """Wait for the process to end (killing it after `timeout`); returns its exit code."""
        import subprocess

        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self._reader.join(10)
        return code
