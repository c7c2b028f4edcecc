"""A tiny sd_notify(3) client: tells systemd READY, WATCHDOG, STATUS, STOPPING, RELOADING.

Why not a library: `sdnotify` (2017) is unmaintained and `systemd-python` needs libsystemd-dev to
build on the Pi; the protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named in
$NOTIFY_SOCKET (a path, or `@name` for an abstract socket). Outside systemd (NOTIFY_SOCKET unset)
every call is a no-op, so the daemon runs the same in a terminal and in tests. A failed send is
logged once and never raised: the recognition loop must not die because systemd went away.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _socket_address(value: str) -> str | bytes | None:
    """$NOTIFY_SOCKET as a socket address: `/path` as is, `@name` as an abstract name."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None  # vsock: and other forms are not used on a Pi; treated as "not under systemd"


class SystemdNotifier:
    """Sends notifications to one socket address; `address=None` makes every call a no-op."""

    def __init__(self, address: str | bytes | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_timeout_s = watchdog_usec / 1e6 if watchdog_usec else None
        self._sock: socket.socket | None = None
        self._failed_once = False
        self._next_ping = 0.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID the way sd_notify(3) documents."""
        env = os.environ if environ is None else environ
        raw_socket = env.get("NOTIFY_SOCKET", "")
        address = _socket_address(raw_socket) if raw_socket else None
        if raw_socket and address is None:
            log.warning(
                "NOTIFY_SOCKET=%r is not a path or @abstract socket; not notifying", raw_socket
            )
        usec: int | None = None
        try:
            usec = int(env.get("WATCHDOG_USEC", ""))
            if usec <= 0:
                usec = None
            pid = env.get("WATCHDOG_PID", "")
            if pid and int(pid) != os.getpid():
                usec = None  # the watchdog is meant for another process (e.g. a wrapper)
        except ValueError:
            usec = None
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half of WatchdogSec, as sd_watchdog_enabled(3) advises."""
        return self.watchdog_timeout_s / 2 if self.watchdog_timeout_s else None

    def notify(self, **fields: object) -> bool:
        """Send `KEY=value` lines (notify(READY=1, STATUS="...")); True if a datagram went out."""
        if self.address is None or not fields:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # never block the processing loop: if nobody reads the socket (a stalled systemd, a
            # test), the kernel queue (net.unix.max_dgram_qlen, 10 here) fills and a blocking
            # send would freeze recognition; a dropped STATUS is harmless, a frozen box is not
            self._sock.sendto(message, socket.MSG_DONTWAIT, self.address)
        except OSError as exc:
            if not self._failed_once:
                self._failed_once = True
                log.warning(
                    "cannot notify systemd at %r: %s (further errors not logged)", self.address, exc
                )
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text.replace("\n", " "))

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def watchdog_if_due(self, now: float | None = None) -> bool:
        """Ping the watchdog when half its interval has passed (cheap to call every frame)."""
        interval = self.watchdog_interval_s()
        if interval is None or self.address is None:
            return False
        now = time.monotonic() if now is None else now
        if now < self._next_ping:
            return False
        self._next_ping = now + interval
        return self.watchdog()

    def reloading(self) -> bool:
        """RELOADING=1 with MONOTONIC_USEC (sd_notify(3)); send ready() again once reloaded."""
        return self.notify(
            RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        )

    def stopping(self) -> bool:
        return self.notify(STOPPING=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
