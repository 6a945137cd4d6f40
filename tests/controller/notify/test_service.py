"""The notifications core on a fake clock: one message per incident and one per recovery, bursts
as one message, quiet hours, the digest, retries with backoff, the outbox across a restart.
The channel is a recording one (the real channels have their own tests, and the end-to-end
test in test_notify_run.py sends through them)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.config import parse_config
from controller.notify.channels import ChannelError, Outgoing
from controller.notify.outbox import GIVE_UP_AFTER, retry_delay_s
from controller.notify.service import NotifyService
from controller.platform.alarms import AlarmBook
from controller.platform.clock import FakeClock
from controller.platform.history import History
from controller.platform.store import Store

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
EVENING = datetime(2026, 11, 26, 19, 32, tzinfo=ICT)

CONFIG = """
[site]
id = "thieu-long"
name = "Xã Thiệu Long"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[notify]
burst_s = 60
digest_at = "07:00"

[[notify.recipients]]
id = "tech"
channel = "webhook"
address = "http://127.0.0.1:9/hook"
severities = ["alarm", "warning"]
{extra}
"""


class RecordingChannel:
    name = "webhook"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.attempts: list[tuple[datetime, str]] = []
        self.fail_next = 0
        self.refuse = False
        self.clock: FakeClock | None = None

    async def send(self, message: Outgoing) -> None:
        assert self.clock is not None
        self.attempts.append((self.clock.now(), message.message_id))
        if self.refuse:
            raise ChannelError("HTTP 404 from the receiver", retryable=False)
        if self.fail_next:
            self.fail_next -= 1
            raise ChannelError("connection refused", retryable=True)
        self.sent.append(message)


class Rig:
    def __init__(self, tmp_path: Path, extra: str = "", start: datetime = EVENING) -> None:
        self.config = parse_config(CONFIG.format(data=tmp_path, extra=extra))
        self.clock = FakeClock(start)
        self.channel = RecordingChannel()
        self.channel.clock = self.clock
        self.tmp_path = tmp_path
        self.open()

    def open(self) -> None:
        self.store = Store(self.tmp_path)
        self.events = History(self.tmp_path / "history", "events")
        self.alarms = AlarmBook(self.events, self.clock)
        self.service = NotifyService(config=self.config, store=self.store, events=self.events,
                                     clock=self.clock, channels={"webhook": self.channel},
                                     note=self.alarms.note)
        self.alarms.listeners.append(self.service.on_record)
        self.alarms.clear_listeners.append(self.service.on_cleared)
        self.service._recover()

    async def after(self, seconds: float) -> None:
        await self.service.step()
        await self.clock.advance(seconds)
        await self.service.step()

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.channel.sent]

    def log(self) -> list[dict[str, Any]]:
        return self.service.log()


async def test_a_dead_board_is_one_message_and_its_return_one_more(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for _ in range(20):  # every failed poll reports it again
        rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
        await rig.after(10)
    await rig.after(60)
    assert rig.texts == ["[Xã Thiệu Long] CẢNH BÁO: Thiết bị relay-1 mất kết nối lúc 19:32"]
    rig.alarms.clear("device_offline", "relay-1", "answers again")
    await rig.after(61)
    assert len(rig.texts) == 2
    assert rig.texts[1].startswith("[Xã Thiệu Long] ĐÃ KHÔI PHỤC: Thiết bị relay-1 mất kết nối")
    first, second = rig.channel.sent
    assert first.message_id != second.message_id
    assert first.payload["incidents"][0]["state"] == "opened"
    assert second.payload["incidents"][0]["state"] == "cleared"
    assert rig.service.queued == 0
    sent = [r for r in rig.log() if r["kind"] == "notify_sent"]
    assert [r["message_id"] for r in sent] == [second.message_id, first.message_id]


async def test_a_burst_goes_as_one_message(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(20)
    rig.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    rig.alarms.raise_alarm("cabinet-door", "relay-1", "input 0 active", severity="warning")
    await rig.after(30)
    assert rig.texts == []  # the burst is still open
    await rig.after(11)
    assert len(rig.texts) == 1
    text = rig.texts[0]
    assert text.startswith("[Xã Thiệu Long] 3 sự việc:\n")
    assert "- CẢNH BÁO: Mạch road-5 hỏng đèn" in text
    assert "- CHÚ Ý: Tủ relay-1 cửa tủ mở" in text
    # One after the burst starts a new one.
    rig.alarms.raise_alarm("day_burner", "road-5", "current by day")
    await rig.after(61)
    assert len(rig.texts) == 2 and "đèn sáng ban ngày" in rig.texts[1]


async def test_severities_and_kinds_per_recipient(tmp_path: Path) -> None:
    rig = Rig(tmp_path, extra="""
[[notify.recipients]]
id = "chief"
channel = "webhook"
address = "http://127.0.0.1:9/chief"
kinds = ["lamp_failure"]
""")
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    rig.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    rig.alarms.raise_alarm("clock_unsynchronised", "clock", "NTP", severity="warning")
    rig.alarms.note("override", "road-5", "on for 2 h")  # info, not an incident
    rig.alarms.note("relay_drift", "road-5", "changed by hand", severity="warning")
    await rig.after(61)
    by_address = {m.address: m for m in rig.channel.sent}
    assert set(by_address) == {"http://127.0.0.1:9/hook", "http://127.0.0.1:9/chief"}
    chief = by_address["http://127.0.0.1:9/chief"]
    assert [i["kind"] for i in chief.payload["incidents"]] == ["lamp_failure"]
    tech = by_address["http://127.0.0.1:9/hook"]
    assert [i["kind"] for i in tech.payload["incidents"]] == [
        "device_offline", "lamp_failure", "clock_unsynchronised", "relay_drift"]
    assert "Đồng hồ: giờ hệ thống chưa đồng bộ (NTP)" in tech.text


async def test_notifications_do_not_notify(tmp_path: Path) -> None:
    rig = Rig(tmp_path, extra='kinds = "all"\n')
    rig.channel.fail_next = 1
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(61)
    await rig.after(31)
    await rig.after(120)
    # notify_failed and notify_sent were noted (warning, info) and made no message of their own.
    kinds = [r["kind"] for r in rig.log()]
    assert kinds == ["notify_sent", "notify_failed"]
    assert len(rig.texts) == 1


async def test_quiet_hours_hold_what_is_not_an_alarm(tmp_path: Path) -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=ICT)
    rig = Rig(tmp_path, extra='quiet_hours = "22:00-06:00"\n', start=night)
    rig.alarms.raise_alarm("broadcast_failed", "morning-news", "ffmpeg died", severity="warning")
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(61)
    assert len(rig.texts) == 1 and "CẢNH BÁO: Thiết bị relay-1" in rig.texts[0]
    rig.alarms.clear("broadcast_failed", "morning-news")
    await rig.after(3600)
    assert len(rig.texts) == 1  # still quiet
    await rig.clock.advance((datetime(2026, 11, 27, 6, 0, tzinfo=ICT) - rig.clock.now())
                            .total_seconds() - 1)
    await rig.service.step()
    assert len(rig.texts) == 1
    await rig.after(1)
    assert len(rig.texts) == 2
    text = rig.texts[1]
    assert "CHÚ Ý: Bản tin morning-news phát thanh thất bại lúc 23:00" in text
    assert "ĐÃ KHÔI PHỤC: Bản tin morning-news" in text


async def test_retries_back_off_survive_a_restart_and_give_up_after_a_day(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.channel.fail_next = 3
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(60)
    assert len(rig.channel.attempts) == 1
    await rig.after(retry_delay_s(1) - 1)
    assert len(rig.channel.attempts) == 1
    await rig.after(1)
    assert len(rig.channel.attempts) == 2
    # A restart keeps the message and its attempts: the third try comes 60 s after the second.
    rig.open()
    await rig.after(retry_delay_s(2))
    assert len(rig.channel.attempts) == 3
    await rig.after(retry_delay_s(3))
    assert len(rig.channel.attempts) == 4 and len(rig.texts) == 1
    times = [at for at, _ in rig.channel.attempts]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [
        30, 60, 120]
    assert [r.get("attempt") for r in rig.log()] == [4, 3, 2, 1]

    rig.channel.fail_next = 10_000
    rig.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    await rig.after(60)
    while rig.service.queued:  # from one attempt to the next
        (queued,) = rig.service.outbox.queued()
        await rig.after((queued.next_at - rig.clock.now()).total_seconds())
    (gave_up,) = [r for r in rig.log() if r.get("gave_up")]
    tries = [at for at, mid in rig.channel.attempts if mid == gave_up["message_id"]]
    assert tries[-1] - tries[0] < GIVE_UP_AFTER <= tries[-1] - tries[0] + timedelta(hours=1)
    delays = [(b - a).total_seconds() for a, b in itertools.pairwise(tries)]
    assert delays[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert set(delays[8:]) == {3600}
    assert len(tries) == 8 + 22  # the next one would be past 24 h


async def test_a_refused_message_is_given_up_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.channel.refuse = True
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(61)
    await rig.after(3600)
    assert len(rig.channel.attempts) == 1
    (failed,) = rig.log()
    assert failed["kind"] == "notify_failed" and failed["gave_up"] is True
    assert "404" in failed["error"]


async def test_held_and_queued_survive_a_restart_and_a_sent_one_is_not_sent_again(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    await rig.after(30)  # held, its burst open
    rig.open()  # a new service on the same storage, as after a kill
    await rig.after(31)
    assert len(rig.texts) == 1
    message = rig.channel.sent[0]
    # As if killed after the send was logged and before the message left the outbox.
    from controller.notify.outbox import Queued
    rig.service.outbox.queue(Queued(
        id=message.message_id, recipient="tech", channel="webhook", address=message.address,
        subject=message.subject, text=message.text, created_at=rig.clock.now(),
        next_at=rig.clock.now()))
    rig.open()
    await rig.after(1)
    assert len(rig.texts) == 1 and rig.service.queued == 0


async def test_the_daily_digest(tmp_path: Path) -> None:
    morning = datetime(2026, 11, 26, 8, 0, tzinfo=ICT)
    rig = Rig(tmp_path, start=morning, extra="""
[[notify.recipients]]
id = "chief"
channel = "webhook"
address = "http://127.0.0.1:9/chief"
severities = ["alarm", "warning"]
digest = true
""")
    await rig.after(3600)  # signed up after 07:00: the chief's first digest is tomorrow's
    digests = [m for m in rig.channel.sent if m.address.endswith("/chief")]
    assert digests == []
    rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
    rig.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    await rig.after(3600)
    rig.alarms.clear("device_offline", "relay-1")
    await rig.after(3600)
    # The technician got theirs at once; the chief gets nothing until 07:00.
    assert all(not m.address.endswith("/chief") for m in rig.channel.sent)
    until_seven = datetime(2026, 11, 27, 7, 0, tzinfo=ICT) - rig.clock.now()
    await rig.after(until_seven.total_seconds() - 60)
    assert all(not m.address.endswith("/chief") for m in rig.channel.sent)
    await rig.after(60)
    (digest,) = [m for m in rig.channel.sent if m.address.endswith("/chief")]
    assert digest.text.startswith("[Xã Thiệu Long] TỔNG HỢP 24 giờ đến 07:00 ngày 27/11:\n")
    assert "- mất kết nối: 1 lần" in digest.text
    assert "- ĐÃ KHÔI PHỤC: 1" in digest.text
    assert "Còn mở (1):\n- Mạch road-5 hỏng đèn" in digest.text
    assert digest.message_id == "chief-digest-2026-11-27"
    await rig.after(6 * 3600)
    assert len([m for m in rig.channel.sent if m.address.endswith("/chief")]) == 1


async def test_the_runner_wakes_on_its_clock(tmp_path: Path) -> None:
    import asyncio

    from tests.conftest import eventually

    rig = Rig(tmp_path)
    runner = asyncio.create_task(rig.service.run())
    try:
        await rig.clock.advance(1)
        rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
        await eventually(lambda: len(rig.service._held) == 1, "held")
        await rig.clock.advance(59)
        await asyncio.sleep(0.1)
        assert rig.texts == []
        await rig.clock.advance(1)
        await eventually(lambda: len(rig.texts) == 1, "sent after the burst")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_test_message(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    (result,) = await rig.service.send_test("tech")
    assert result.ok and rig.texts[0].startswith("[Xã Thiệu Long] THỬ: ")
    rig.channel.fail_next = 1
    await rig.clock.advance(1)
    (result,) = await rig.service.send_test()
    assert not result.ok and result.retryable and "refused" in result.error
    assert [r["kind"] for r in rig.log()] == ["notify_failed", "notify_sent"]
    from controller.errors import NotFound
    with pytest.raises(NotFound):
        await rig.service.send_test("nobody")


def test_recipients_are_checked_as_the_config_checks_them(tmp_path: Path) -> None:
    from controller.errors import ConfigError
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(data=tmp_path, extra="""
[[notify.recipients]]
id = "sms-1"
channel = "sms"
address = "+84912345678"
"""))
    assert caught.value.problems == [
        "notify.recipients[1].channel: sms needs [notify.sms] (the modem's port)"]
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(data=tmp_path, extra="""
[[notify.recipients]]
id = "night"
channel = "webhook"
address = "http://127.0.0.1:9/night"
quiet_hours = "25:00-06:00"
severities = ["loud"]
kinds = [1]
"""))
    problems = caught.value.problems
    assert any(p.startswith("notify.recipients[1].quiet_hours: ") for p in problems), problems
    assert any(p.startswith("notify.recipients[1].severities[0]: ") for p in problems), problems
    assert any(p.startswith("notify.recipients[1].kinds[0]: ") for p in problems), problems
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(data=tmp_path, extra="") + """
[[notify.recipients]]
id = "tech"
channel = "webhook"
address = "ftp://x"
""")
    assert caught.value.problems == [
        "notify.recipients[1].address: expected an http:// or https:// URL for channel "
        "'webhook', got 'ftp://x'"]


async def test_wording_of_a_single_incident_at_local_time(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.alarms.raise_alarm("node_offline", "node-7", "last will")
    await rig.after(61)
    assert rig.texts == ["[Xã Thiệu Long] CẢNH BÁO: Nút loa node-7 mất kết nối lúc 19:32"]
    assert rig.channel.sent[0].subject == "[Xã Thiệu Long] CẢNH BÁO: Nút loa node-7 mất kết nối"
