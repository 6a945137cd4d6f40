"""The talk button ([broadcast.talk_button]): its logic on a moved clock with a board and a
radio of its own (fast), then a real controller whose relay board (the simulated cabinet over
Modbus TCP) has the button on a digital input and whose microphone is arecord on ALSA's null
capture device: held, the zone's relay switches and the talk airs; released, it ends and is
logged; a button held at start-up or through a refusal does not air; a board that stops
answering ends the talk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.config import TalkButtonConfig, parse_config
from controller.errors import ConfigError, Conflict
from controller.platform.audit import Actor
from controller.platform.clock import FakeClock, SystemClock
from controller.platform.devices import DeviceManager
from controller.radio.requests import LiveStart
from controller.radio.talk_button import (
    BUTTON_ACTOR,
    LOST_BUTTON_S,
    OFFLINE_POLL_MAX_S,
    RELEASED_READS,
    TalkButton,
)
from drivers.errors import DeviceUnavailable
from tests.controller.http.browser import ZONE_COILS, Controller
from tests.controller.http.test_live import LIVE_CONFIG, api, live_records
from tests.controller.test_config import MINIMAL

BUTTON = TalkButtonConfig(device="relay-1", input=2, zones=["trung-tam"], level="priority",
                          poll_ms=100)


class Board:
    """The device manager's ``call`` for one relay board with a button on input 2."""

    def __init__(self) -> None:
        self.pressed = False
        self.answers = True

    async def call(self, device_id: str, operation: Any) -> Any:
        assert device_id == "relay-1"
        if not self.answers:
            raise DeviceUnavailable("relay-1: no answer")
        return [False, False, self.pressed]


class Talk:
    def __init__(self) -> None:
        self.id = f"talk-{id(self)}"
        self.item = None
        self.end: str | None = None

    def close(self, reason: str) -> None:
        self.end = reason


class Radio:
    def __init__(self) -> None:
        self.started: list[tuple[LiveStart, Actor]] = []
        self.refuse: str | None = None

    async def start(self, request: LiveStart, actor: Actor) -> Any:
        if self.refuse:
            raise Conflict(self.refuse)
        self.started.append((request, actor))
        return Talk()


def button(board: Board, radio: Radio, clock: FakeClock,
           setting: TalkButtonConfig = BUTTON) -> TalkButton:
    return TalkButton(setting, board, clock, radio.start)  # type: ignore[arg-type]


async def released(talk_button: TalkButton) -> None:
    """Polls that read the button released, as many as count as a release."""
    for _ in range(RELEASED_READS):
        await talk_button.poll()


async def talking() -> tuple[Board, Radio, FakeClock, TalkButton, Talk]:
    """A button seen released, then pressed: its talk started."""
    board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
    talk_button = button(board, radio, clock)
    await released(talk_button)
    board.pressed = True
    await talk_button.poll()
    assert isinstance(talk_button.talk, Talk)
    return board, radio, clock, talk_button, talk_button.talk


def test_held_it_talks_released_it_ends() -> None:
    async def scenario() -> None:
        board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        talk_button = button(board, radio, clock)
        await released(talk_button)  # armed
        board.pressed = True
        await talk_button.poll()
        (request, actor), = radio.started
        assert (request.zones, request.level, request.source) == (
            ["trung-tam"], "priority", "gateway")
        assert actor == BUTTON_ACTOR
        talk = talk_button.talk
        assert talk is not None
        await talk_button.poll()  # still held: the same talk
        assert len(radio.started) == 1 and talk.end is None
        board.pressed = False
        await released(talk_button)
        assert talk.end == "the talk button was released" and talk_button.talk is None

    asyncio.run(scenario())


def test_a_button_held_at_start_up_or_after_its_talk_ended_waits_for_a_release() -> None:
    async def scenario() -> None:
        board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        talk_button = button(board, radio, clock)
        board.pressed = True  # stuck down through a power cut
        for _ in range(3):
            await talk_button.poll()
        assert radio.started == []
        board.pressed = False
        await released(talk_button)
        board.pressed = True
        await talk_button.poll()
        assert len(radio.started) == 1
        talk = talk_button.talk
        assert talk is not None
        talk.end = "preempted by an emergency"  # cut off while the button is held
        for _ in range(3):
            await talk_button.poll()
        assert len(radio.started) == 1 and talk_button.talk is None
        board.pressed = False
        await released(talk_button)
        board.pressed = True
        await talk_button.poll()
        assert len(radio.started) == 2

    asyncio.run(scenario())


def test_a_refused_press_is_counted_and_not_retried_while_held() -> None:
    async def scenario() -> None:
        board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        talk_button = button(board, radio, clock)
        await released(talk_button)
        radio.refuse = "an emergency announcement is on air: wait for it to end"
        board.pressed = True
        for _ in range(5):
            await talk_button.poll()
        assert (talk_button.presses, talk_button.refusals, radio.started) == (1, 1, [])
        radio.refuse = None
        board.pressed = False
        await released(talk_button)
        board.pressed = True
        await talk_button.poll()
        assert len(radio.started) == 1

    asyncio.run(scenario())


def test_a_board_that_stops_answering_ends_the_talk() -> None:
    async def scenario() -> None:
        board, radio, clock, talk_button, talk = await talking()
        board.answers = False
        await talk_button.poll()
        await clock.advance(LOST_BUTTON_S / 2)
        await talk_button.poll()
        assert talk.end is None  # a read or two lost on a flaky line is not a release
        await clock.advance(LOST_BUTTON_S / 2)
        await talk_button.poll()
        assert talk.end is not None and "cannot be read" in talk.end
        board.answers = True  # back, still held: no new talk until released
        await talk_button.poll()
        assert len(radio.started) == 1

    asyncio.run(scenario())


def test_one_noisy_released_read_does_not_cut_the_talk() -> None:
    async def scenario() -> None:
        board, radio, _clock, talk_button, talk = await talking()
        board.pressed = False
        await talk_button.poll()  # one read says released...
        board.pressed = True
        await talk_button.poll()  # ...the next says held again
        assert talk.end is None and talk_button.talk is talk and len(radio.started) == 1

    asyncio.run(scenario())


def test_a_silent_board_is_read_less_and_less_often() -> None:
    async def scenario() -> None:
        board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        talk_button = button(board, radio, clock)
        assert talk_button.next_poll_s() == BUTTON.poll_ms / 1000
        board.answers = False
        waits = []
        for _ in range(12):
            await talk_button.poll()
            waits.append(talk_button.next_poll_s())
        assert waits[:3] == [0.2, 0.4, 0.8] and waits[-1] == OFFLINE_POLL_MAX_S
        board.answers = True
        await talk_button.poll()
        assert talk_button.next_poll_s() == BUTTON.poll_ms / 1000

    asyncio.run(scenario())


def test_the_pressed_state_can_be_an_open_input() -> None:
    async def scenario() -> None:
        board, radio, clock = Board(), Radio(), FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        setting = BUTTON.model_copy(update={"pressed_reads": "open"})
        talk_button = button(board, radio, clock, setting)
        board.pressed = True  # closed: released, for a normally-closed button
        await released(talk_button)
        board.pressed = False
        await released(talk_button)
        assert len(radio.started) == 1

    asyncio.run(scenario())


# -- a real controller -----------------------------------------------------------------------

BUTTON_CONFIG = LIVE_CONFIG + """
[broadcast.talk_button]
device = "relay-1"
input = 2
zones = ["trung-tam"]
level = "priority"
poll_ms = 50
"""


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    with Controller(tmp_path / "data", BUTTON_CONFIG, inputs=4) as running:
        yield running


def wait_for(what: str, check: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def ended_records(controller: Controller) -> bool:
    """The talk's record is in the log, with how it ended (it is claimed when it starts)."""
    return [r["outcome"] is not None for r in live_records(controller)] == [True]


@pytest.mark.integration
def test_the_button_talks_through_the_gateway_microphone(controller: Controller) -> None:
    cabinet, runtime = controller.cabinet, controller.runtime
    assert cabinet is not None and runtime is not None and runtime.talk_button is not None
    talk_button = runtime.talk_button
    wait_for("the button read released", lambda: talk_button._armed)
    cabinet.set_input(1, 2, True)
    wait_for("a talk on air", lambda: talk_button.talk is not None
             and talk_button.talk.aired_frames > 22050)
    assert controller.coil(ZONE_COILS["trung-tam"]) and not controller.coil(ZONE_COILS["minh-duc"])
    talk = talk_button.talk
    assert talk is not None and talk.source == "gateway" and talk.person == "talk-button"
    cabinet.set_input(1, 2, False)
    wait_for("the talk logged", lambda: ended_records(controller))
    (record,) = live_records(controller)
    assert record["outcome"] == "completed" and record["duration_s"] >= 1.0, record
    assert record["reason"] == "the talk button was released", record
    assert record["level"] == "priority" and record["zones"] == ["trung-tam"]
    wait_for("the zone switched off", lambda: not controller.coil(ZONE_COILS["trung-tam"]))
    audit = api(controller, "/audit?action=live.start").json()
    assert [entry["actor"] for entry in audit] == ["talk-button"], audit


@pytest.mark.integration
def test_the_talk_ends_when_the_board_stops_answering(controller: Controller) -> None:
    cabinet, runtime = controller.cabinet, controller.runtime
    assert cabinet is not None and runtime is not None and runtime.talk_button is not None
    talk_button = runtime.talk_button
    wait_for("the button read released", lambda: talk_button._armed)
    cabinet.set_input(1, 2, True)
    wait_for("a talk on air", lambda: talk_button.talk is not None
             and talk_button.talk.aired_frames > 0)
    cabinet.set_reply_delay(1, 5.0)  # longer than the bus's timeout: no answer
    wait_for("the talk logged", lambda: ended_records(controller), timeout_s=30)
    (record,) = live_records(controller)
    assert "cannot be read" in (record["reason"] or ""), record
    cabinet.set_reply_delay(1, 0)


# -- its config ------------------------------------------------------------------------------

CONFIG_BASE = MINIMAL.replace('profile = "relay8"\n', 'profile = "relay8"\n'
                              'inputs = { 0 = "cabinet-door" }\n') + """
[[devices]]
id = "meter-1"
bus = "b"
unit = 2
profile = "sdm120"
[[zones]]
id = "trung-tam"
device = "relay-1"
channel = 5
[broadcast]
output = "null"
MICROPHONE
[broadcast.talk_button]
BUTTON
"""


def config_text(button: str, microphone: str = 'microphone = "default"') -> str:
    return CONFIG_BASE.replace("MICROPHONE", microphone).replace("BUTTON", button)


def test_a_good_talk_button_config_reads_its_input_with_the_alarms() -> None:
    config = parse_config(config_text('device = "relay-1"\ninput = 3'))
    assert config.broadcast.talk_button == TalkButtonConfig(device="relay-1", input=3)
    board = DeviceManager(config, SystemClock()).drivers["relay-1"]
    assert board.inputs == 4  # type: ignore[union-attr]  # inputs 0 (the door) to 3


@pytest.mark.parametrize(("button", "microphone", "expected"), [
    ('device = "relay-1"\ninput = 3', "", "broadcast.talk_button: the button talks through "
     "the gateway's microphone: set broadcast.microphone"),
    ('device = "relay-9"\ninput = 3', None, "broadcast.talk_button.device: unknown device "
     "'relay-9'"),
    ('device = "meter-1"\ninput = 3', None, "broadcast.talk_button.device: device 'meter-1' "
     "is a meter; only relay boards have digital inputs"),
    ('device = "relay-1"\ninput = 0', None, "broadcast.talk_button.input: input 0 of "
     "'relay-1' is already the alarm 'cabinet-door'"),
    ('device = "relay-1"\ninput = 3\nzones = ["thon-9"]', None,
     "broadcast.talk_button.zones: unknown zone 'thon-9'"),
    ('device = "relay-1"\ninput = -1', None, "broadcast.talk_button.input: Input should be "
     "greater than or equal to 0"),
    ('device = "relay-1"\ninput = 3\npoll_ms = 5', None, "broadcast.talk_button.poll_ms:"),
    ('device = "relay-1"\ninput = 3\nlevel = "loud"', None, "broadcast.talk_button.level:"),
])
def test_a_bad_talk_button_is_one_line_with_its_path(button: str, microphone: str | None,
                                                     expected: str) -> None:
    text = config_text(button) if microphone is None else config_text(button, microphone)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    lines = caught.value.lines()
    assert len(lines) == 1 and lines[0].startswith(f"bad.toml: {expected}"), lines



def test_a_gateway_talk_ends_after_its_longest_length() -> None:
    """broadcast.microphone_max_min: arecord would go on for ever behind a phone that lost its
    link or a button stuck down (RadioService._limit_gateway_talk on a moved clock)."""
    from types import SimpleNamespace

    from controller.radio.live import LiveTalk
    from controller.radio.service import RadioService

    async def scenario() -> tuple[LiveTalk, LiveTalk]:
        clock = FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
        service = SimpleNamespace(_clock=clock)
        long_talk, short_talk = (
            LiveTalk(person="tuan", source="gateway", recording=Path("/nonexistent.wav"),
                     monotonic=clock.monotonic) for _ in range(2))
        limits = [asyncio.create_task(RadioService._limit_gateway_talk(
            service, talk, 30)) for talk in (long_talk, short_talk)]  # type: ignore[arg-type]
        await clock.advance(10 * 60)
        short_talk.ended.set()  # it ended by itself meanwhile
        await clock.advance(20 * 60 - 1)
        assert not long_talk.closed
        await clock.advance(1)
        await asyncio.gather(*limits)
        return long_talk, short_talk

    long_talk, short_talk = asyncio.run(scenario())
    assert long_talk.closed and "30 min" in (long_talk.end_reason or "")
    assert not short_talk.closed
