"""The one push button: a short press clears the word being spelled, a long hold repeats the last.

Built on gpiozero's `Button` (internal pull-up, button wired between the pin and ground). On a
Raspberry Pi 4 or 5 with Raspberry Pi OS Bookworm, gpiozero picks the `lgpio` pin factory by
itself (package python3-lgpio, or `lgpio` from PyPI in the venv); nothing here names a backend,
so `GPIOZERO_PIN_FACTORY` can still override it. Tests pass `gpiozero.pins.mock.MockFactory()`.

gpiozero calls the handlers on its own threads (the pin's event thread for press/release, a
hold timer thread for hold). So `on_press` and `on_hold` must be quick and thread-safe: the
daemon passes callbacks that only put a command on its command queue (`queue_commands` builds
such a pair), and the main loop acts on them.

A hold fires `on_hold` once when `hold_s` is reached; the release that ends it does NOT also
fire `on_press`. A release before `hold_s` is a press. Kept down on to `enrol_hold_s` (several
seconds; 0 = off), the same hold also fires `on_long_hold` once (the daemon starts enrolment):
the signer hears the last word repeated at `hold_s`, then the enrolment's first prompt.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from edge.config import GpioConfig
from edge.errors import Sign2SoundError

log = logging.getLogger(__name__)

CLEAR_COMMAND = "clear"  # what a press asks for (queue_commands)
REPEAT_COMMAND = "repeat"  # what a hold asks for


class ButtonError(Sign2SoundError):
    """The configured button pin cannot be used (in use, no GPIO on this machine, ...)."""


def queue_commands(
    commands: queue.Queue[str],
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(on_press, on_hold) callbacks that only put CLEAR_COMMAND / REPEAT_COMMAND on `commands`
    (never blocking gpiozero's thread: a full queue drops the command with a log line)."""

    def put(command: str) -> None:
        try:
            commands.put_nowait(command)
        except queue.Full:
            log.warning("command queue full: button %s ignored", command)

    return (lambda: put(CLEAR_COMMAND)), (lambda: put(REPEAT_COMMAND))


class ButtonController:
    """Wires one gpiozero Button to `on_press` / `on_hold`; does nothing when gpio.pin is null."""

    def __init__(
        self,
        config: GpioConfig,
        on_press: Callable[[], None],
        on_hold: Callable[[], None],
        pin_factory: Any = None,
        on_long_hold: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._on_press = on_press
        self._on_hold = on_hold
        self._on_long_hold = on_long_hold
        self._long_timer: threading.Timer | None = None
        self.long_holds = 0
        self._lock = threading.Lock()
        self._down = False
        self._held = False
        self.presses = 0
        self.holds = 0
        self._button: Any = None
        if config.pin is None:
            log.info("no button configured (gpio.pin is null)")
            return
        try:
            from gpiozero import Button

            self._button = Button(
                config.pin,
                pull_up=True,
                bounce_time=config.bounce_s or None,
                hold_time=config.hold_s,
                hold_repeat=False,
                pin_factory=pin_factory,
            )
        except Exception as exc:  # gpiozero raises many kinds (BadPinFactory, GPIOPinInUse...)
            raise ButtonError(
                f"gpio.pin {config.pin}: cannot use the button ({type(exc).__name__}: {exc}); "
                "check the pin number and that no other program uses it, or set gpio.pin: null"
            ) from exc
        self._button.when_pressed = self._pressed
        self._button.when_held = self._held_down
        self._button.when_released = self._released
        log.info(
            "button on BCM pin %d: press clears, hold %.1f s repeats%s",
            config.pin,
            config.hold_s,
            f", hold {config.enrol_hold_s:.0f} s enrols"
            if on_long_hold is not None and config.enrol_hold_s
            else "",
        )

    @property
    def active(self) -> bool:
        """True when a button is configured and open."""
        return self._button is not None

    def close(self) -> None:
        """Release the pin (safe to call twice, and when no button is configured)."""
        self._disarm_long_hold()
        button, self._button = self._button, None
        if button is not None:
            button.close()

    # The hold timer runs on its own thread and may fire just as the button is released; the
    # lock and `_down` make that a clean either/or: a hold (no press) or a press (no hold).
    def _pressed(self) -> None:
        with self._lock:
            self._down = True
            self._held = False
        self._arm_long_hold()

    def _held_down(self) -> None:
        with self._lock:
            if not self._down or self._held:
                return
            self._held = True
            self.holds += 1
        self._call(self._on_hold, "hold")

    def _released(self) -> None:
        self._disarm_long_hold()
        with self._lock:
            self._down = False
            was_held, self._held = self._held, False
            if not was_held:
                self.presses += 1
        if not was_held:
            self._call(self._on_press, "press")

    # The long hold (enrolment) has its own timer, started on press and cancelled on release:
    # gpiozero's Button has one hold time, which the repeat already uses.
    def _arm_long_hold(self) -> None:
        if self._on_long_hold is None or not self.config.enrol_hold_s:
            return
        timer = threading.Timer(self.config.enrol_hold_s, self._long_held)
        timer.daemon = True
        with self._lock:
            old, self._long_timer = self._long_timer, timer
        if old is not None:
            old.cancel()
        timer.start()

    def _disarm_long_hold(self) -> None:
        with self._lock:
            timer, self._long_timer = self._long_timer, None
        if timer is not None:
            timer.cancel()

    def _long_held(self) -> None:
        with self._lock:
            if not self._down or self._long_timer is not threading.current_thread():
                return  # released meanwhile, or this is an older press's timer
            self._long_timer = None
            self._held = True  # its release is not a press
            self.long_holds += 1
        self._call(self._on_long_hold, "long hold")

    @staticmethod
    def _call(callback: Callable[[], None], what: str) -> None:
        # an exception would end up in gpiozero's thread and be lost: log it, keep the button
        try:
            callback()
        except Exception:
            log.exception("button %s handler failed", what)
