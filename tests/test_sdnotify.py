"""sd_notify client against real AF_UNIX datagram sockets (a path socket and an abstract one)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sdnotify import SystemdNotifier


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5.0)
    return sock


def _fields(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


@pytest.fixture()
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = _receiver(path)
    yield path, sock
    sock.close()


@pytest.fixture()
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"sign2sound-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = _receiver(b"\0" + name.encode())
    yield "@" + name, sock
    sock.close()


def test_path_socket_receives_ready_status_watchdog_stopping(path_socket) -> None:
    env_value, sock = path_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": env_value})
    assert notifier.enabled
    assert notifier.ready(status="listening")
    assert _fields(sock) == {"READY": "1", "STATUS": "listening"}
    assert notifier.status("word: HEL\n12.0 fps")
    assert _fields(sock) == {"STATUS": "word: HEL 12.0 fps"}
    assert notifier.watchdog()
    assert _fields(sock) == {"WATCHDOG": "1"}
    assert notifier.stopping()
    assert _fields(sock) == {"STOPPING": "1"}
    notifier.close()


def test_abstract_socket(abstract_socket) -> None:
    env_value, sock = abstract_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": env_value})
    assert notifier.notify(READY=1)
    assert _fields(sock) == {"READY": "1"}
    notifier.close()


def test_reloading_carries_monotonic_usec(path_socket) -> None:
    env_value, sock = path_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": env_value})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    fields = _fields(sock)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


def test_unset_socket_is_a_noop() -> None:
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_if_due() is False
    assert notifier.watchdog_interval_s() is None


def test_unusable_socket_value_is_a_noop(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert "vsock:2:1234" in caplog.text


def test_send_error_is_logged_once_and_never_raised(tmp_path: Path, caplog) -> None:
    missing = str(tmp_path / "nobody-listens.sock")
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": missing})
    with caplog.at_level(logging.WARNING, logger="edge.sdnotify"):
        assert notifier.watchdog() is False
        assert notifier.status("still running") is False
    warnings = [r for r in caplog.records if r.name == "edge.sdnotify"]
    assert len(warnings) == 1
    assert missing in warnings[0].getMessage()


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20000000"}
    assert SystemdNotifier.from_environment(env).watchdog_interval_s() == 10.0
    env_for_us = dict(env, WATCHDOG_PID=str(os.getpid()))
    assert SystemdNotifier.from_environment(env_for_us).watchdog_interval_s() == 10.0
    env_for_other = dict(env, WATCHDOG_PID=str(os.getpid() + 1))
    assert SystemdNotifier.from_environment(env_for_other).watchdog_interval_s() is None
    for bad in ("soon", "0", "-5"):
        env_bad = dict(env, WATCHDOG_USEC=bad)
        assert SystemdNotifier.from_environment(env_bad).watchdog_interval_s() is None


def test_watchdog_if_due_pings_once_per_half_interval(path_socket) -> None:
    env_value, sock = path_socket
    env = {"NOTIFY_SOCKET": env_value, "WATCHDOG_USEC": "4000000"}  # 4 s -> ping every 2 s
    notifier = SystemdNotifier.from_environment(env)
    sent = [notifier.watchdog_if_due(now) for now in (100.0, 100.5, 101.9, 102.0, 103.0, 104.1)]
    assert sent == [True, False, False, True, False, True]
    sock.settimeout(0.5)
    received = []
    while True:
        try:
            received.append(_fields(sock))
        except TimeoutError:
            break
    assert received == [{"WATCHDOG": "1"}] * 3


def test_a_socket_nobody_reads_never_blocks_the_caller(path_socket) -> None:
    """A full kernel queue drops the message (reported once) instead of freezing the loop."""
    env_value, sock = path_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": env_value})
    sent = [notifier.status(f"frame {i}") for i in range(500)]  # far past max_dgram_qlen
    assert sent[0] is True
    assert sent[-1] is False  # the queue is full and the send returned instead of blocking
    assert _fields(sock) == {"STATUS": "frame 0"}  # what was queued is intact
    notifier.close()
