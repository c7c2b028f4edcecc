"""The button on gpiozero's MockFactory: the pin driven low (pressed, wired to ground) and high.

MockFactory does not emulate bounce_time, so nothing here relies on it. Press and release
handlers run synchronously in the thread that drives the mock pin; the hold fires on gpiozero's
hold thread, so the tests wait for it on an Event (a generous timeout, not a timing assertion).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from edge.button import (
    CLEAR_COMMAND,
    REPEAT_COMMAND,
    ButtonController,
    ButtonError,
    queue_commands,
)
from edge.config import GpioConfig

PIN = 17


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    mock = MockFactory()
    yield mock
    mock.reset()


class Recorder:
    def __init__(self) -> None:
        self.presses = 0
        self.holds = 0
        self.held = threading.Event()

    def press(self) -> None:
        self.presses += 1

    def hold(self) -> None:
        self.holds += 1
        self.held.set()


def gpio(**changes: object) -> GpioConfig:
    return dataclasses.replace(GpioConfig(pin=PIN), **changes)


def test_short_press_clears(factory: MockFactory) -> None:
    rec = Recorder()
    # a 10 s hold time: the press below cannot become a hold however slow the machine is
    button = ButtonController(gpio(hold_s=10.0), rec.press, rec.hold, pin_factory=factory)
    pin = factory.pin(PIN)
    assert pin.state == 1  # pulled up: idle high
    pin.drive_low()
    assert rec.presses == 0  # a press acts on release, once it is known not to be a hold
    pin.drive_high()
    assert (rec.presses, rec.holds) == (1, 0)
    pin.drive_low()
    pin.drive_high()
    assert (rec.presses, rec.holds) == (2, 0)
    button.close()


def test_long_hold_repeats_and_its_release_does_not_also_clear(factory: MockFactory) -> None:
    rec = Recorder()
    button = ButtonController(gpio(hold_s=0.2), rec.press, rec.hold, pin_factory=factory)
    pin = factory.pin(PIN)
    pin.drive_low()
    assert rec.held.wait(10.0), "the hold never fired"
    pin.drive_high()
    assert (rec.presses, rec.holds) == (0, 1)
    assert (button.presses, button.holds) == (0, 1)
    button.close()


def test_after_a_hold_a_short_press_clears_again(factory: MockFactory) -> None:
    rec = Recorder()
    # hold_s 1 s: the press below lasts microseconds, so it can only be a press; a button that
    # took it as a second hold (or swallowed it) fails here
    button = ButtonController(gpio(hold_s=1.0), rec.press, rec.hold, pin_factory=factory)
    pin = factory.pin(PIN)
    pin.drive_low()
    assert rec.held.wait(10.0)
    pin.drive_high()
    assert (rec.presses, rec.holds) == (0, 1)
    started = time.monotonic()
    pin.drive_low()
    pin.drive_high()
    assert time.monotonic() - started < 1.0  # what makes it a short press
    assert (rec.presses, rec.holds) == (1, 1)
    assert (button.presses, button.holds) == (1, 1)
    button.close()


def test_callbacks_feed_a_command_queue(factory: MockFactory) -> None:
    commands: queue.Queue[str] = queue.Queue(maxsize=1)
    on_press, on_hold = queue_commands(commands)
    button = ButtonController(gpio(hold_s=10.0), on_press, on_hold, pin_factory=factory)
    pin = factory.pin(PIN)
    pin.drive_low()
    pin.drive_high()
    assert commands.get_nowait() == CLEAR_COMMAND
    on_hold()
    on_hold()  # full: dropped with a log line, never blocks gpiozero's thread
    assert commands.get_nowait() == REPEAT_COMMAND
    assert commands.empty()
    button.close()


def test_a_failing_handler_is_logged_and_the_button_keeps_working(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("daemon gone")

    button = ButtonController(gpio(hold_s=10.0), broken, lambda: None, pin_factory=factory)
    pin = factory.pin(PIN)
    with caplog.at_level(logging.ERROR, logger="edge.button"):
        for _ in range(2):
            pin.drive_low()
            pin.drive_high()
    assert len(calls) == 2
    assert "button press handler failed" in caplog.text
    button.close()


def test_no_pin_configured_means_no_button(factory: MockFactory) -> None:
    button = ButtonController(GpioConfig(pin=None), lambda: None, lambda: None, factory)
    assert not button.active
    button.close()
    button.close()


def test_close_releases_the_pin_and_a_pin_in_use_is_a_clear_error(factory: MockFactory) -> None:
    first = ButtonController(gpio(), lambda: None, lambda: None, pin_factory=factory)
    with pytest.raises(ButtonError, match=f"gpio.pin {PIN}: cannot use the button"):
        ButtonController(gpio(), lambda: None, lambda: None, pin_factory=factory)
    first.close()
    assert not first.active
    again = ButtonController(gpio(), lambda: None, lambda: None, pin_factory=factory)
    assert again.active
    again.close()


def test_a_hold_timer_firing_just_after_the_release_is_ignored(factory: MockFactory) -> None:
    rec = Recorder()
    button = ButtonController(gpio(hold_s=10.0), rec.press, rec.hold, pin_factory=factory)
    pin = factory.pin(PIN)
    pin.drive_low()
    pin.drive_high()
    button._held_down()  # what gpiozero's hold thread does if it loses the race to the release
    assert (rec.presses, rec.holds) == (1, 0)
    button.close()
