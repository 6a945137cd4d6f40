"""SMS and e-mail end to end through the notifications (not the channels alone): the
NotifyService on a fake clock with the real channels built from the config, as the controller
builds them, the SMS one on the simulated modem over a socat pty pair and the e-mail one on
aiosmtpd with STARTTLS and a login. An alarm that opens is one SMS (Vietnamese, UCS-2, decoded
back to the same words by the modem) and one e-mail with those words; it clears, one recovery
each; the modem failing once, the SMS is tried again and delivered once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.config import parse_config
from controller.notify.channels import build_channels
from controller.notify.outbox import retry_delay_s
from controller.notify.service import NotifyService
from controller.platform.alarms import AlarmBook
from controller.platform.clock import FakeClock
from controller.platform.history import History
from controller.platform.store import Store
from drivers.modem_sim import ModemSimulator
from tests.controller.notify.test_channels import MailServer, certificate, mail_server

__all__ = ["certificate", "mail_server"]

pytestmark = pytest.mark.integration

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

[notify.sms]
port = "{tty}"
timeout_s = 1.0
send_timeout_s = 2.0

[notify.email]
host = "127.0.0.1"
port = {smtp_port}
ca_file = "{cert}"
username = "canhbao@xa.vn"
password = "mật-khẩu-1"
sender = "canhbao@xa.vn"
sender_name = "Đèn và loa xã Thiệu Long"
timeout_s = 5

[[notify.recipients]]
id = "tuan"
name = "Anh Tuấn (kỹ thuật)"
channel = "sms"
address = "+84912345678"

[[notify.recipients]]
id = "chu-tich"
channel = "email"
address = "chutich@xa-thieulong.vn"
"""

OPENED = "[Xã Thiệu Long] CẢNH BÁO: Thiết bị relay-1 mất kết nối lúc 19:32"
CLEARED = "[Xã Thiệu Long] ĐÃ KHÔI PHỤC: Thiết bị relay-1 mất kết nối lúc 19:40"


@pytest.fixture
def modem(socat_pty_pair: tuple[str, str]) -> Iterator[tuple[ModemSimulator, str]]:
    """The simulated modem on one end of the pair; the other end is the modem's port."""
    ours, its = socat_pty_pair
    with ModemSimulator.on_tty(its) as sim:
        yield sim, ours


@dataclass
class Rig:
    clock: FakeClock
    alarms: AlarmBook
    service: NotifyService
    modem: ModemSimulator
    mail: MailServer

    async def after(self, seconds: float) -> None:
        await self.service.step()
        await self.clock.advance(seconds)
        await self.service.step()

    def sms(self) -> list[str]:
        return [m.text for m in self.modem.messages]

    def mails(self) -> list[tuple[list[str], str, str]]:
        """(to, subject, body) of each e-mail received."""
        found = []
        for _, to, raw in self.mail.messages:
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            found.append((to, str(mail["Subject"]), mail.get_content().rstrip("\n")))
        return found

    def log(self) -> list[tuple[str, str]]:
        return [(r["kind"], r["target"]) for r in reversed(self.service.log())]


@pytest.fixture
async def rig(tmp_path: Path, modem: tuple[ModemSimulator, str],
              mail_server: MailServer) -> AsyncIterator[Rig]:
    sim, tty = modem
    config = parse_config(CONFIG.format(data=tmp_path / "data", tty=tty,
                                        smtp_port=mail_server.port, cert=mail_server.cert))
    settings = config.notify
    clock = FakeClock(EVENING)
    events = History(config.storage.path / "history", "events")
    alarms = AlarmBook(events, clock)
    service = NotifyService(config=config, store=Store(config.storage.path), events=events,
                            clock=clock, note=alarms.note,
                            channels=build_channels(settings.sms, settings.email,
                                                    settings.webhook))
    alarms.listeners.append(service.on_record)
    alarms.clear_listeners.append(service.on_cleared)
    service._recover()
    yield Rig(clock, alarms, service, sim, mail_server)
    await service.close()


async def test_an_alarm_and_its_recovery_are_one_sms_and_one_email_each(rig: Rig) -> None:
    for _ in range(6):  # every failed poll reports it again: still one incident
        rig.alarms.raise_alarm("device_offline", "relay-1", "no answer")
        await rig.after(10)
    await rig.after(1)
    assert rig.sms() == [OPENED]
    [sms] = rig.modem.messages
    assert (sms.number, sms.encoding) == ("+84912345678", "ucs2")
    assert rig.mails() == [(["chutich@xa-thieulong.vn"],
                            "[Xã Thiệu Long] CẢNH BÁO: Thiết bị relay-1 mất kết nối", OPENED)]
    assert rig.mail.logins == [("LOGIN", "canhbao@xa.vn", "mật-khẩu-1")]
    assert sorted(rig.log()) == [("notify_sent", "chu-tich"), ("notify_sent", "tuan")]

    await rig.clock.advance(8 * 60 - 61)  # 19:40
    rig.alarms.clear("device_offline", "relay-1", "answers again")
    await rig.after(61)
    assert rig.sms() == [OPENED, CLEARED]
    assert [body for _, _, body in rig.mails()] == [OPENED, CLEARED]
    assert rig.mails()[1][1].startswith("[Xã Thiệu Long] ĐÃ KHÔI PHỤC")
    assert rig.service.queued == 0
    assert sorted(rig.log()) == sorted([("notify_sent", "tuan"), ("notify_sent", "chu-tich")]
                                       * 2)


async def test_the_modem_failing_once_the_sms_goes_once_on_the_retry(rig: Rig) -> None:
    rig.modem.fail_next_sends(1)  # +CMS ERROR: 500, network trouble: worth trying again
    rig.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    await rig.after(61)
    assert rig.sms() == []
    assert len(rig.mails()) == 1  # the e-mail does not wait for the modem
    failed = [r for r in rig.service.log() if r["kind"] == "notify_failed"]
    [failure] = failed
    assert (failure["target"], failure["channel"], failure["attempt"]) == ("tuan", "sms", 1)
    assert "500" in failure["error"] and not failure.get("gave_up")
    assert rig.service.queued == 1
    await rig.after(retry_delay_s(1) - 1)
    assert rig.sms() == []  # not before its time
    await rig.after(1)
    text = "[Xã Thiệu Long] CẢNH BÁO: Mạch road-5 hỏng đèn (bật nhưng không có dòng điện) " \
           "lúc 19:32"
    # Longer than one UCS-2 SMS (70 characters): two numbered parts, together once.
    assert rig.sms() == [f"(1/2) {text[:64]}", f"(2/2) {text[64:]}"]
    assert {(m.number, m.encoding) for m in rig.modem.messages} == {("+84912345678", "ucs2")}
    assert [body for _, _, body in rig.mails()] == [text]
    await rig.after(3600)
    assert len(rig.sms()) == 2 and len(rig.mails()) == 1  # delivered once, each
    sent = [r for r in rig.service.log() if r["kind"] == "notify_sent"]
    assert sorted((r["target"], r["attempt"]) for r in sent) == [("chu-tich", 1), ("tuan", 2)]
    assert rig.service.queued == 0


