"""The talk button: a push-to-talk button on a relay board's digital input
(``[broadcast.talk_button]``). While it is held, the gateway's microphone airs live in the
button's zones, as a technician's talk started from the page would; released, the talk ends
and is logged and kept like any other.

The input is read every ``poll_ms`` through the device manager, so the reads take their turn
on the bus with the lighting's and the radio's own. What makes it safe to leave unattended:

- A press starts one talk. A talk that ends while the button is still held (an emergency cut
  in, it was refused because the air was taken, it was stopped from the page) does not start
  again until the button has been released: a button stuck down, or a latching switch left on,
  never keeps re-opening the microphone.
- At start-up the button must be seen released once before a press counts, for the same
  reason after a power cut.
- When the board stops answering during a talk, the talk ends at the first failed read that
  comes ``LOST_BUTTON_S`` or more after the last good one (a failed read itself takes the
  bus's timeout and retries): a button that cannot be read cannot be released either. While
  the board does not answer, it is read less and less often (up to every ``OFFLINE_POLL_MAX_S``),
  so that its retries do not hold the bus that the lighting shares.
- A release counts when two reads in a row say so: one noisy read on a long RS-485 line does
  not cut a talk short.
- Only a free air takes a press: a normal or priority talk is refused while anything is on air
  (as from the page), and the press must be released and made again once it is free.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from controller.config import TalkButtonConfig
from controller.errors import RequestError
from controller.platform.audit import Actor
from controller.platform.clock import Clock
from controller.platform.devices import DeviceManager
from controller.radio.live import LiveTalk
from controller.radio.requests import LiveStart
from drivers.errors import DeviceError

log = logging.getLogger(__name__)

# Who the log and the audit trail name for a talk from the button.
BUTTON_ACTOR = Actor(name="talk-button", role="technician")
# A talk whose button cannot be read for this long ends.
LOST_BUTTON_S = 2.0
# Reads that say "released", in a row, that end a talk.
RELEASED_READS = 2
# While the board does not answer: the wait between reads doubles from the poll up to this.
OFFLINE_POLL_MAX_S = 30.0

StartTalk = Callable[[LiveStart, Actor], Awaitable[LiveTalk]]


class TalkButton:
    def __init__(self, setting: TalkButtonConfig, devices: DeviceManager, clock: Clock,
                 start_talk: StartTalk) -> None:
        self._setting = setting
        self._devices = devices
        self._clock = clock
        self._start_talk = start_talk
        self.talk: LiveTalk | None = None  # the talk the button holds open
        self.presses = 0
        self.refusals = 0
        self._armed = False  # seen released since start-up or since its last talk
        self._released_reads = 0
        self._last_read_at: float | None = None  # monotonic, of the last good read
        self._failed_reads = 0

    async def run(self) -> None:
        while True:
            await self.poll()
            await self._clock.sleep(self.next_poll_s())

    def next_poll_s(self) -> float:
        interval_s = self._setting.poll_ms / 1000
        if not self._failed_reads:
            return interval_s
        return min(interval_s * 2 ** min(self._failed_reads, 16), OFFLINE_POLL_MAX_S)

    async def poll(self) -> None:
        """Read the button once and act on it."""
        pressed = await self._read()
        talk = self.talk
        if talk is not None and talk.end is not None:
            self.talk = talk = None  # it ended without the button (preempted, stopped)
        if pressed is None:
            last = self._last_read_at
            if talk is not None and (
                    last is None or self._clock.monotonic() - last >= LOST_BUTTON_S):
                log.warning("talk button: %s does not answer; the talk ends",
                            self._setting.device)
                talk.close(f"the talk button on {self._setting.device} cannot be read")
                self.talk = None
            return
        if not pressed:
            self._released_reads += 1
            if self._released_reads < RELEASED_READS:
                return
            self._armed = True
            if talk is not None:
                talk.close("the talk button was released")
                self.talk = None
            return
        self._released_reads = 0
        if talk is None and self._armed:
            self._armed = False  # one press, one talk
            await self._start()

    async def _read(self) -> bool | None:
        index = self._setting.input
        try:
            inputs = await self._devices.call(self._setting.device,
                                              lambda board: board.read_inputs())
        except DeviceError:
            # The device manager logs the board going offline and back, and keeps its health.
            self._failed_reads += 1
            return None
        self._failed_reads = 0
        self._last_read_at = self._clock.monotonic()
        closed = bool(inputs[index])
        return closed if self._setting.pressed_reads == "closed" else not closed

    async def _start(self) -> None:
        self.presses += 1
        request = LiveStart(zones=self._setting.zones, level=self._setting.level,
                            source="gateway")
        try:
            self.talk = await self._start_talk(request, BUTTON_ACTOR)
        except RequestError as exc:
            self.refusals += 1
            log.warning("talk button: not on air: %s", exc)
            return
        log.info("talk button: live talk %s in %s", self.talk.id,
                 ", ".join(self.talk.item.zones) if self.talk.item else "its zones")

