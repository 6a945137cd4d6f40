"""The broadcast coordinator with real parts: zone and amplifier relays on a pymodbus server
over TCP, speech from espeak-ng, audio written by the WAV file sink, on a fake clock.

Time moves only when a test moves it (``run_until`` advances the fake clock in small steps and
lets the real Modbus and file I/O happen in between), so "the first sample on the scheduled
second" is checked exactly, whatever the machine's load.
"""

from __future__ import annotations

import array
import asyncio
import math
import socket
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.config import parse_config
from controller.platform.audit import Actor
from controller.platform.clock import FakeClock
from controller.radio.items import program_items
from controller.radio.records import RadioBook
from controller.radio.requests import AnnouncementCreate
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program
from tests.controller.conftest import (
    AMP_CHANNEL,
    ICT,
    MINH_DUC_CHANNEL,
    RADIO_DAWN,
    RADIO_UNIT,
    TRUNG_TAM_CHANNEL,
    radio_config_text,
)

pytestmark = pytest.mark.integration

MORNING_DUE = datetime(2026, 11, 26, 6, 0, tzinfo=ICT)
REAL_TIMEOUT_S = 60.0
# Who announces in these tests: a technician's announcements never wait for approval.
TECHNICIAN = Actor(name="technician-token", role="technician")


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("espeak-ng")
    require_program("ffmpeg")


class Radio:
    """A runtime whose broadcast coordinator runs as a task, on a fake clock."""

    def __init__(self, data: Path, cabinet: SimulatedCabinet, clock: FakeClock, *,
                 approval: bool = False, extra: str = "") -> None:
        self.data, self.cabinet, self.clock = data, cabinet, clock
        text = radio_config_text(data, cabinet.tcp_port, approval=approval) + extra
        self.runtime: Runtime = build_runtime(parse_config(text), clock)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.runtime.broadcasts.run())
        await self.settle()

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.runtime.devices.close()

    async def settle(self) -> None:
        """Let real I/O started by the last step finish (no fake time passes)."""
        for _ in range(5):
            await asyncio.sleep(0.01)

    async def run_until(self, condition: Callable[[], bool], *, step_s: float = 0.25,
                        max_fake_s: float = 600.0) -> None:
        started, moved = time.monotonic(), 0.0
        while not condition():
            assert moved <= max_fake_s, f"not reached within {max_fake_s} s of fake time"
            assert time.monotonic() - started < REAL_TIMEOUT_S, "not reached in real time"
            await self.clock.advance(step_s)
            moved += step_s
            await asyncio.sleep(0.003)

    async def advance_to(self, moment: datetime) -> None:
        await self.run_until(lambda: self.clock.now() >= moment)

    def coils(self) -> dict[str, bool]:
        coils = self.cabinet.coils(RADIO_UNIT)
        return {"amp": coils[AMP_CHANNEL], "minh-duc": coils[MINH_DUC_CHANNEL],
                "trung-tam": coils[TRUNG_TAM_CHANNEL]}

    def log(self) -> list[dict[str, Any]]:
        return self.runtime.broadcasts.airlog.query()

    def outcomes(self) -> dict[str, str | None]:
        return {r["key"]: r.get("outcome") for r in self.log()}

    def wav_files(self) -> list[Path]:
        return sorted((self.data / "air").glob("*.wav"))

    async def announce(self, **fields: Any) -> str:
        """An announcement for now, made as the API makes one; the key of its first airing."""
        request = AnnouncementCreate.model_validate(fields)
        announcement = await self.runtime.radio_service.announce(request, actor=TECHNICIAN)
        return f"announcement:{announcement.id}#1"

    def set_morning_source(self, source: dict[str, Any]) -> None:
        """What the morning programme plays, changed in storage (its time stays promised)."""
        book = RadioBook(self.runtime.store)
        morning = book.program("morning")
        assert morning is not None
        book.put_program(replace(morning, source=source))


@pytest.fixture
async def radio(tmp_path: Path, radio_cabinet: SimulatedCabinet) -> AsyncIterator[Radio]:
    radio = Radio(tmp_path / "data", radio_cabinet, FakeClock(RADIO_DAWN))
    yield radio
    if radio.task is not None and not radio.task.done():
        await radio.stop()


def samples_of(path: Path) -> tuple[array.array[int], int]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return samples, 22050


def rms(samples: array.array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


def long_text(sentences: int) -> str:
    return " ".join(["Bà con chú ý, đây là bản tin của đài truyền thanh xã Thiệu Long."]
                    * sentences)


async def test_programme_airs_on_its_second_in_its_zone(radio: Radio) -> None:
    await radio.start()
    await radio.advance_to(MORNING_DUE - timedelta(seconds=4))
    assert radio.coils() == {"amp": False, "minh-duc": False, "trung-tam": False}

    # Fine steps: the relays switch over real Modbus, and with coarse steps a busy machine
    # lets fake time run past the window before the write lands.
    await radio.run_until(lambda: radio.coils()["amp"], step_s=0.05)
    # Switched on warmup_s (3 s) ahead, to the step of the fake clock.
    assert MORNING_DUE - timedelta(seconds=3.3) <= radio.clock.now() <= MORNING_DUE
    assert radio.coils() == {"amp": True, "minh-duc": True, "trung-tam": False}

    # Fine steps again: the item must be caught while it plays, not after.
    await radio.run_until(lambda: bool(radio.wav_files()), step_s=0.05)
    record = radio.log()[0]
    assert record["key"] == f"program:morning@{MORNING_DUE.isoformat()}"
    assert record["outcome"] is None  # claimed before its first sample
    assert radio.wav_files()[0].name.startswith("20261125T230000Z_program-morning")

    await radio.run_until(lambda: radio.log()[0]["outcome"] is not None)
    await radio.run_until(lambda: not any(radio.coils().values()))
    record = radio.log()[0]
    assert (record["outcome"], record["start_offset_ms"]) == ("completed", 0.0)
    assert record["zones"] == ["minh-duc"]
    samples, rate = samples_of(radio.wav_files()[0])
    assert 3.0 < len(samples) / rate < 30.0  # a spoken sentence or two
    assert rms(samples) > 300  # speech, not silence


async def test_emergency_preempts_a_programme_and_takes_its_own_zones(radio: Radio) -> None:
    await radio.start()
    radio.set_morning_source({"type": "tts", "text": long_text(12)})
    await radio.advance_to(MORNING_DUE + timedelta(seconds=3))
    await radio.run_until(lambda: bool(radio.wav_files()))

    emergency = await radio.announce(
        level="emergency", zones=["trung-tam"],
        source={"type": "tts", "text": "Khẩn cấp: bão số 9 sắp đổ bộ. Bà con khẩn trương sơ tán."})
    await radio.run_until(lambda: len(radio.wav_files()) == 2, step_s=0.05)
    outcomes = radio.outcomes()
    assert outcomes[f"program:morning@{MORNING_DUE.isoformat()}"] == "preempted"
    assert radio.coils() == {"amp": True, "minh-duc": False, "trung-tam": True}

    await radio.run_until(lambda: radio.outcomes().get(emergency) == "completed")
    await radio.run_until(lambda: not any(radio.coils().values()))
    programme, cut_in = radio.log()
    assert programme["ended_at"] <= cut_in["started_at"]
    # The programme's file holds only what played before the cut.
    cut_samples, rate = samples_of(radio.wav_files()[0])
    assert len(cut_samples) / rate < 30


@pytest.mark.parametrize(("level", "outcome"), [("normal", "skipped"),
                                                 ("priority", "skipped"),
                                                 ("emergency", "completed")])
async def test_quiet_hours_hold_everything_but_emergencies(
        tmp_path: Path, radio_cabinet: SimulatedCabinet, level: str, outcome: str) -> None:
    radio = Radio(tmp_path / "data", radio_cabinet,
                  FakeClock(datetime(2026, 11, 26, 23, 0, tzinfo=ICT)))
    await radio.start()
    key = await radio.announce(level=level,
                               source={"type": "tts", "text": "Thông báo lúc nửa đêm."})
    await radio.run_until(lambda: radio.outcomes().get(key) is not None
                          and radio.runtime.radio_service.now_playing() is None)
    await radio.stop()
    assert radio.outcomes() == {key: outcome}


async def test_priority_waits_for_the_free_moment_and_goes_before_normal(radio: Radio) -> None:
    await radio.start()
    radio.set_morning_source({"type": "tts", "text": long_text(3)})
    await radio.advance_to(MORNING_DUE + timedelta(seconds=1))
    # Forced: both overlap the programme on air in their zone, and each other.
    normal = await radio.announce(level="normal", zones=["minh-duc"], force=True,
                                  source={"type": "tts", "text": "Thông báo thường."})
    priority = await radio.announce(level="priority", zones=["minh-duc"], force=True,
                                    source={"type": "tts", "text": "Thông báo ưu tiên."})
    await radio.run_until(lambda: len([o for o in radio.outcomes().values()
                                       if o == "completed"]) == 3)
    keys = [r["key"] for r in radio.log()]
    assert keys == [f"program:morning@{MORNING_DUE.isoformat()}", priority, normal]


async def test_item_due_while_down_plays_late_within_grace_else_missed(
        tmp_path: Path, radio_cabinet: SimulatedCabinet) -> None:
    extra = """
[[broadcast_programs]]
id = "short-grace"
schedule = { times = ["06:00"] }
zones = ["trung-tam"]
grace_min = 2
source = { type = "tts", text = "Chương trình có thời gian chờ ngắn." }
"""
    clock = FakeClock(RADIO_DAWN)
    first = Radio(tmp_path / "data", radio_cabinet, clock, extra=extra)
    await first.start()
    await first.stop()  # the controller goes down at 05:58 ...

    await clock.set(MORNING_DUE + timedelta(minutes=5))  # ... and is back at 06:05
    second = Radio(tmp_path / "data", radio_cabinet, clock, extra=extra)
    await second.start()
    await second.run_until(lambda: len([o for o in second.outcomes().values()
                                        if o in ("completed", "missed")]) == 2)
    await second.stop()
    by_ref = {r["ref"]: r for r in second.log()}
    assert by_ref["morning"]["outcome"] == "completed"
    assert by_ref["morning"]["start_offset_ms"] >= 5 * 60 * 1000
    assert (by_ref["short-grace"]["outcome"], by_ref["short-grace"]["reason"]) == \
        ("missed", "the controller was not running at its time")

    third = Radio(tmp_path / "data", radio_cabinet, clock, extra=extra)
    await third.start()
    await third.run_until(lambda: clock.now() >= MORNING_DUE + timedelta(minutes=8),
                          step_s=1.0)
    await third.stop()
    assert len(third.log()) == 2  # nothing replayed


async def test_an_item_cut_by_a_kill_is_logged_failed_and_never_replayed(
        tmp_path: Path, radio_cabinet: SimulatedCabinet) -> None:
    clock = FakeClock(MORNING_DUE - timedelta(minutes=1))
    first = Radio(tmp_path / "data", radio_cabinet, clock)  # seeds the programme at 05:59
    await clock.set(MORNING_DUE + timedelta(seconds=2))
    # What a process killed two seconds into the programme leaves: a claimed record.
    (item,) = program_items(first.runtime.config, first.runtime.radio_service.programs(),
                            start=MORNING_DUE, end=MORNING_DUE + timedelta(seconds=1))
    first.runtime.broadcasts.airlog.start(item, at=MORNING_DUE)
    await first.runtime.devices.close()

    second = Radio(tmp_path / "data", radio_cabinet, clock)
    await second.start()
    await second.run_until(lambda: clock.now() > MORNING_DUE + timedelta(minutes=1))
    await second.stop()
    (record,) = second.log()
    assert (record["outcome"], record["reason"]) == ("failed", "the controller stopped during it")
    assert second.wav_files() == []


async def test_a_repeated_announcement_airs_each_time_then_is_done(radio: Radio) -> None:
    await radio.start()
    first_key = await radio.announce(zones=["trung-tam"], repeat=2, repeat_gap_min=1,
                                     source={"type": "tts", "text": "Thông báo lặp lại hai lần."})
    announcement_id = first_key.removeprefix("announcement:").removesuffix("#1")
    await radio.run_until(
        lambda: radio.outcomes().get(f"announcement:{announcement_id}#2") == "completed")
    assert radio.runtime.radio_service.announcement(announcement_id).status == "done"
    first, second = [r for r in radio.log() if r["ref"] == announcement_id]
    gap = datetime.fromisoformat(second["started_at"]) - datetime.fromisoformat(first["due"])
    assert gap >= timedelta(minutes=1)


async def test_a_board_that_does_not_answer_raises_an_alarm_and_the_item_still_plays(
        tmp_path: Path) -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RADIO_UNIT, coils=8)
    await cabinet.start_tcp("127.0.0.1", 0)
    radio = Radio(tmp_path / "data", cabinet, FakeClock(MORNING_DUE - timedelta(seconds=10)))
    await cabinet.stop()
    await radio.start()
    await radio.run_until(lambda: radio.outcomes().get(
        f"program:morning@{MORNING_DUE.isoformat()}") == "completed")
    await radio.stop()
    (record,) = radio.log()
    assert "not switched: relay-2" in record["reason"]
    assert radio.runtime.alarms.is_open("zone_switch_failed", "relay-2")


@pytest.fixture
def fallback(tmp_path: Path) -> Path:
    ffmpeg = require_program("ffmpeg")
    path = tmp_path / "fallback.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=330:duration=2",
                    "-codec:a", "libmp3lame", str(path)], check=True)
    return path


async def test_a_dead_station_is_replaced_by_its_local_file(
        tmp_path: Path, radio_cabinet: SimulatedCabinet, fallback: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    radio = Radio(tmp_path / "data", radio_cabinet, FakeClock(RADIO_DAWN))
    audio = await radio.runtime.radio_service.add_audio(fallback, name="fallback.mp3",
                                                        actor=TECHNICIAN)
    radio.set_morning_source({
        "type": "stream", "url": f"http://127.0.0.1:{dead_port}/live.mp3", "duration_s": 5,
        "fallback_audio_id": audio.id})
    await radio.start()
    await radio.run_until(lambda: radio.outcomes().get(
        f"program:morning@{MORNING_DUE.isoformat()}") is not None and
        radio.runtime.radio_service.now_playing() is None)
    await radio.stop()
    (record,) = radio.log()
    assert record["outcome"] == "completed"
    assert "stream failed, played the fallback" in record["reason"]
    samples, rate = samples_of(radio.wav_files()[0])
    assert abs(len(samples) / rate - 5.0) < 0.2  # the whole slot, no dead air
    assert rms(samples) > 1000


async def test_a_technician_stops_what_plays(radio: Radio) -> None:
    await radio.start()
    radio.set_morning_source({"type": "tts", "text": long_text(6)})
    await radio.advance_to(MORNING_DUE + timedelta(seconds=2))
    playing = radio.runtime.radio_service.now_playing()
    assert playing is not None and playing.state == "playing"
    stopped = await radio.runtime.radio_service.stop(actor=TECHNICIAN)
    assert stopped.ref == "morning"
    await radio.run_until(lambda: not any(radio.coils().values()))
    (record,) = radio.log()
    assert (record["outcome"], record["reason"]) == ("cancelled", "stopped by technician-token")
    assert radio.runtime.radio_service.now_playing() is None
