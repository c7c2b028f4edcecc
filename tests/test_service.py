"""Signals routed into the main loop (real signals sent to this process) and the root check."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

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
