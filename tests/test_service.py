"""Signals routed into the main loop (real signals sent to this process) and the root check."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from edge.errors import Sign2SoundError, UsageError
from edge.service import ServiceSignals, refuse_root


def _deliver(signals: ServiceSignals, signum: int) -> None:
    """Send a real signal to this process and let the main thread run its Python handler."""
    os.kill(os.getpid(), signum)
    signals.sleep(0.01)  # any Python-level call lets the pending handler run


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_set_the_stop_flag(signum: int) -> None:
    with ServiceSignals() as signals:
        assert not signals.stop_requested
        _deliver(signals, signum)
        assert signals.stop_requested
        assert signals.stop_reason == signal.Signals(signum).name
        assert signals.take_reload() is False


def test_sighup_requests_one_reload_and_does_not_stop() -> None:
    with ServiceSignals() as signals:
        _deliver(signals, signal.SIGHUP)
        _deliver(signals, signal.SIGHUP)
        assert not signals.stop_requested
        assert signals.take_reload() is True
        assert signals.take_reload() is False  # two HUPs before the loop looked = one reload
        _deliver(signals, signal.SIGHUP)
        assert signals.take_reload() is True


def test_second_sigint_while_stopping_raises_keyboard_interrupt() -> None:
    with ServiceSignals() as signals:
        _deliver(signals, signal.SIGINT)
        assert signals.stop_requested
        with pytest.raises(KeyboardInterrupt):
            _deliver(signals, signal.SIGINT)


def test_previous_handlers_are_restored() -> None:
    def custom(signum, frame):  # pragma: no cover - never called
        pass

    old_hup = signal.signal(signal.SIGHUP, custom)
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        with ServiceSignals() as signals:
            assert signal.getsignal(signal.SIGTERM) == signals._handle
            assert signal.getsignal(signal.SIGHUP) == signals._handle
        after = {s: signal.getsignal(s) for s in before}
        assert after == before
        assert after[signal.SIGHUP] is custom
    finally:
        signal.signal(signal.SIGHUP, old_hup)


def test_sleep_wakes_on_a_signal_delivered_to_another_thread() -> None:
    """The kernel may hand SIGTERM to the capture thread; the main loop's sleep must still end."""
    with ServiceSignals() as signals:
        sender = threading.Timer(
            0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        )
        start = time.monotonic()
        sender.start()
        stopped = signals.sleep(60.0)
        waited = time.monotonic() - start
        sender.join()
        assert stopped is True
        assert signals.stop_reason == "SIGTERM"
        assert waited < 30.0, "sleep() did not wake on the signal; it ran to its timeout"


def test_request_stop_from_another_thread_wakes_sleep() -> None:
    with ServiceSignals() as signals:
        threading.Timer(0.2, signals.request_stop).start()
        start = time.monotonic()
        assert signals.sleep(60.0) is True
        assert time.monotonic() - start < 30.0
        assert signals.stop_reason == "request"


def test_sleep_without_a_signal_returns_false() -> None:
    with ServiceSignals() as signals:
        assert signals.sleep(0.05) is False
        signals.request_reload()
        assert signals.sleep(0.05) is False  # a reload wakes the sleep but is not a stop
        assert signals.take_reload() is True


def test_outside_the_main_thread_no_handlers_are_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen = {}

    def worker() -> None:
        with ServiceSignals() as signals:
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            signals.request_stop()
            seen["stopped"] = signals.stop_requested

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"handler": before, "stopped": True}


def test_refuse_root_without_permission() -> None:
    with pytest.raises(UsageError) as info:
        refuse_root(allow_root=False, euid=0)
    assert isinstance(info.value, Sign2SoundError)
    assert info.value.exit_code == 2  # the unit's RestartPreventExitStatus=2: no restart loop
    message = str(info.value)
    assert "root" in message and "service.allow_root" in message and "--allow-root" in message


def test_refuse_root_allowed_logs_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.service"):
        refuse_root(allow_root=True, euid=0)
    assert "running as root" in caplog.text


def test_unprivileged_user_passes() -> None:
    refuse_root(allow_root=False, euid=1000)


def test_refuse_root_uses_the_real_euid() -> None:
    if os.geteuid() == 0:
        with pytest.raises(UsageError):
            refuse_root(allow_root=False)
    else:
        refuse_root(allow_root=False)


# --- end to end: `sign2sound run` as a real subprocess under a fake systemd -------------------
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "models" / "demo" / "hello_landmarks.csv"  # real landmarks of a signer's HELLO
SIGN2SOUND = Path(sys.executable).parent / "sign2sound"


class FakeSystemd:
    """The systemd side of sd_notify: a real AF_UNIX datagram socket collecting messages."""

    def __init__(self, path: Path, daemon_log: Path) -> None:
        self.path = path
        self.daemon_log = daemon_log  # shown when something is missing
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def receive_until(self, done, process: subprocess.Popen, timeout: float) -> dict[str, str]:
        """Collect messages until `done(message)` is true; fail if the process exits first."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                if process.poll() is not None:
                    raise AssertionError(
                        f"sign2sound exited early ({process.returncode}); received "
                        f"{self.messages}; log:\n{self.daemon_log.read_text()[-3000:]}"
                    ) from None
                continue
            message = dict(line.split("=", 1) for line in data.splitlines())
            self.messages.append(message)
            if done(message):
                return message
        raise AssertionError(
            f"timed out; received {self.messages}; log:\n{self.daemon_log.read_text()[-3000:]}"
        )

    def drain(self) -> None:
        self.sock.settimeout(0.5)
        try:
            while True:
                data = self.sock.recv(4096).decode()
                self.messages.append(dict(line.split("=", 1) for line in data.splitlines()))
        except TimeoutError:
            pass

    def close(self) -> None:
        self.sock.close()


def _start_daemon(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    command = [
        str(SIGN2SOUND),
        "run",
        "--allow-root",  # the tests run as root here; the service itself never does
        "--set",
        f"camera.source=replay:{SAMPLE}",
        "--set",
        f"transcript.path={tmp_path / 'transcript.txt'}",
        "--set",
        "service.status_interval_s=0.5",
        *extra,
    ]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )


def test_daemon_under_systemd_ready_watchdog_status_reload_then_sigterm(tmp_path: Path) -> None:
    """READY after the first frame, WATCHDOG pings, STATUS with the word, RELOADING on SIGHUP,
    then SIGTERM mid-word: STOPPING=1, exit code 0, and the word in progress in the transcript."""
    systemd = FakeSystemd(tmp_path / "notify.sock", tmp_path / "stderr.txt")
    env = dict(os.environ, NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="1000000")
    env.pop("WATCHDOG_PID", None)
    env.pop("STATE_DIRECTORY", None)
    process = _start_daemon(tmp_path, env)
    try:
        systemd.receive_until(lambda m: m.get("READY") == "1", process, timeout=120)
        ready_at = len(systemd.messages)
        systemd.receive_until(lambda m: "WATCHDOG" in m, process, timeout=10)

        process.send_signal(signal.SIGHUP)  # `systemctl reload sign2sound`
        reloading = systemd.receive_until(lambda m: "RELOADING" in m, process, timeout=10)
        assert int(reloading["MONOTONIC_USEC"]) > 0
        reloaded = systemd.receive_until(lambda m: m.get("READY") == "1", process, timeout=10)
        assert "reloaded" in reloaded.get("STATUS", "")

        # Stop while a word is being spelled (any letters; the classifier's accuracy is tested
        # elsewhere): the word must be completed and written, not lost.
        status = systemd.receive_until(
            lambda m: (
                m.get("STATUS", "").startswith("word: ") and not m["STATUS"].startswith("word: -")
            ),
            process,
            timeout=60,
        )
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
        stop_s = time.monotonic() - sent
        systemd.drain()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        systemd.close()

    stderr = (tmp_path / "stderr.txt").read_text()
    assert returncode == 0, stderr
    assert "stopping (SIGTERM)" in stderr  # not the end of the replay
    watchdogs = [m for m in systemd.messages[ready_at:] if m.get("WATCHDOG") == "1"]
    assert len(watchdogs) >= 2
    statuses = [m["STATUS"] for m in systemd.messages if "STATUS" in m]
    assert any("fps" in s for s in statuses)
    assert systemd.messages[-1] == {"STOPPING": "1"}
    # The word being spelled when SIGTERM came (at least what STATUS showed) is in the transcript.
    spelled = status["STATUS"].split(";")[0].removeprefix("word: ")
    lines = (tmp_path / "transcript.txt").read_text().splitlines()
    assert len(lines) == 1, lines
    stamp, word = lines[0].split("\t")
    assert word.startswith(spelled), (word, spelled)
    assert datetime.fromisoformat(stamp).tzinfo is not None  # a whole line, not a torn write
    assert f"word: {word}" in stderr
    print(f"stopped {stop_s:.2f} s after SIGTERM")  # shown with pytest -s


def test_daemon_without_notify_socket_runs_and_exits_cleanly(tmp_path: Path) -> None:
    """Outside systemd (NOTIFY_SOCKET unset) the notifier is silent and nothing breaks."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    process = _start_daemon(tmp_path, env, "--max-seconds", "2")
    returncode = process.wait(timeout=120)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert returncode == 0, stderr
    assert "cannot notify systemd" not in stderr


def test_daemon_refuses_root_without_permission(tmp_path: Path) -> None:
    """As root and without --allow-root: one clear line, exit code 2, no traceback.
    (As an ordinary user the same command simply runs.)"""
    command = [
        str(SIGN2SOUND),
        "run",
        "--set",
        f"camera.source=replay:{SAMPLE}",
        "--set",
        f"transcript.path={tmp_path / 'transcript.txt'}",
        "--max-seconds",
        "1",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    if os.geteuid() == 0:
        assert result.returncode == 2
        assert "refusing to run as root" in result.stderr
        assert "--allow-root" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
