"""A technician's test tone in one zone (POST /api/v1/zones/{id}/test-tone), end to end: the
HTTP API of a real runtime whose broadcast coordinator runs on a fake clock, the zone's relay
and amplifier on a simulated board over Modbus TCP, the tone as the WAV file sink wrote it,
the broadcast log, the audit trail and the monthly report."""

from __future__ import annotations

import array
import itertools
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from controller.http.app import create_app
from controller.platform.clock import FakeClock
from controller.platform.tokens import ROLES
from controller.reports.monthly import Month, build_monthly_report
from controller.reports.sources import from_data_folder
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program
from tests.controller.conftest import ICT, RADIO_DAWN
from tests.controller.radio.test_broadcasts import MORNING_DUE, Radio, long_text, samples_of

pytestmark = pytest.mark.integration


class Api:
    """A ``Radio`` (tests/controller/radio/test_broadcasts.py) and its HTTP API, a token per
    role."""

    def __init__(self, radio: Radio, client: httpx.AsyncClient) -> None:
        self.radio, self.client = radio, client
        self.headers: dict[str, dict[str, str]] = {}
        for role in ROLES:
            secret, _ = radio.runtime.tokens.create(name=f"{role}-token", role=role,
                                                    expires_days=None, now=radio.clock.now())
            self.headers[role] = {"Authorization": f"Bearer {secret}"}

    async def tone(self, zone: str, body: Mapping[str, object] | None = None, *,
                   role: str = "technician") -> httpx.Response:
        return await self.client.post(f"/zones/{zone}/test-tone", json=body,
                                      headers=self.headers[role])

    async def audited(self) -> list[dict[str, object]]:
        response = await self.client.get("/audit", params={"action": "zone.test_tone"},
                                         headers=self.headers["admin"])
        assert response.status_code == 200, response.text
        records: list[dict[str, object]] = response.json()
        return records


async def make_api(data: Path, cabinet: SimulatedCabinet,
                   at: datetime) -> AsyncIterator[Api]:
    radio = Radio(data, cabinet, FakeClock(at))
    transport = httpx.ASGITransport(app=create_app(radio.runtime))
    async with httpx.AsyncClient(transport=transport,
                                 base_url="http://testserver/api/v1") as client:
        yield Api(radio, client)
    if radio.task is not None and not radio.task.done():
        await radio.stop()
    else:
        await radio.runtime.devices.close()


@pytest.fixture
async def api(tmp_path: Path, radio_cabinet: SimulatedCabinet) -> AsyncIterator[Api]:
    async for made in make_api(tmp_path / "data", radio_cabinet, RADIO_DAWN):
        yield made


def sign_changes(samples: array.array[int]) -> int:
    signs = [s > 0 for s in samples if s != 0]
    return sum(1 for a, b in itertools.pairwise(signs) if a != b)


async def test_a_tone_sounds_in_its_zone_only_and_is_logged(api: Api) -> None:
    radio = api.radio
    await radio.start()
    asked_at = radio.clock.now()
    response = await api.tone("trung-tam", {"seconds": 2})
    assert response.status_code == 202, response.text
    answer = response.json()
    key = answer["key"]
    assert key.startswith("test:trung-tam-")
    assert (answer["zone"], answer["seconds"], answer["frequency_hz"]) == ("trung-tam", 2, 1000)
    starts_at = datetime.fromisoformat(answer["starts_at"])
    ends_at = datetime.fromisoformat(answer["ends_at"])
    assert starts_at - asked_at == timedelta(seconds=3)  # amp-1's warm-up
    assert ends_at - starts_at == timedelta(seconds=2)

    # The amplifier and this zone's relay switch on, the other zone's stays off.
    await radio.run_until(lambda: radio.coils()["amp"], step_s=0.05)
    assert radio.coils() == {"amp": True, "minh-duc": False, "trung-tam": True}
    assert radio.clock.now() - asked_at < timedelta(seconds=1)  # switched at once, then warms
    await radio.run_until(lambda: bool(radio.wav_files()), step_s=0.05)
    now = (await api.client.get("/broadcasts/now", headers=api.headers["viewer"])).json()
    assert now["on_air"] is True
    assert {k: now["item"][k] for k in ("key", "kind", "title", "level", "zones",
                                        "source_type")} == {
        "key": key, "kind": "test", "title": "Thử loa", "level": "normal",
        "zones": ["trung-tam"], "source_type": "tone"}
    assert radio.coils() == {"amp": True, "minh-duc": False, "trung-tam": True}

    await radio.run_until(lambda: radio.outcomes().get(key) == "completed")
    await radio.run_until(lambda: not any(radio.coils().values()))
    (record,) = radio.log()
    assert {k: record[k] for k in ("key", "kind", "ref", "title", "level", "zones",
                                   "outcome")} == {
        "key": key, "kind": "test", "ref": "trung-tam", "title": "Thử loa", "level": "normal",
        "zones": ["trung-tam"], "outcome": "completed"}
    # On time to a step or two of the fake clock (the coordinator takes the item at its next
    # step, and the warm-up counts from then).
    started_at = datetime.fromisoformat(record["started_at"])
    assert starts_at <= started_at <= starts_at + timedelta(seconds=0.3)
    assert 0.0 <= record["start_offset_ms"] <= 300

    # What the sink received: two seconds of 1 kHz (2000 sign changes a second), moderate.
    (wav,) = radio.wav_files()
    samples, rate = samples_of(wav)
    seconds = len(samples) / rate
    assert abs(seconds - 2.0) < 0.05
    assert abs(sign_changes(samples) / seconds - 2000) <= 0.05 * 2000
    assert 0.2 * 32767 < max(abs(s) for s in samples) < 0.6 * 32767
    # Made once, in the media cache.
    assert (radio.data / "cache" / "tones" / "tone-1000hz-2s.wav").is_file()

    logged = (await api.client.get("/broadcasts/log", headers=api.headers["viewer"])).json()
    assert [(r["key"], r["kind"], r["title"]) for r in logged] == [(key, "test", "Thử loa")]
    (audit,) = await api.audited()
    assert (audit["actor"], audit["action"], audit["target"], audit["details"]) == (
        "technician-token", "zone.test_tone", "trung-tam", {"seconds": 2, "key": key})

    # In the log, but not a bulletin of the monthly report.
    config = radio.runtime.config
    report = build_monthly_report(config, Month(2026, 11), from_data_folder(config,
                                                                            Month(2026, 11)),
                                  now=radio.clock.now())
    assert (report.summary.bulletins_scheduled, report.summary.bulletins_aired,
            report.summary.play_time_min, report.radio.items) == (0, 0, 0.0, 0)


@pytest.mark.parametrize("level", ["normal", "emergency"])
async def test_no_tone_over_an_item_on_air_of_its_level_or_above(api: Api, level: str) -> None:
    require_program("espeak-ng")
    radio = api.radio
    await radio.start()
    key = await radio.announce(level=level, zones=["minh-duc"],
                               source={"type": "tts", "text": long_text(2)})
    await radio.run_until(lambda: bool(radio.wav_files()), step_s=0.05)
    response = await api.tone("trung-tam")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict"
    what = "emergency announcement" if level == "emergency" else "announcement"
    assert error["message"].startswith(f"{what} 'ann-")
    assert "is on air; a test tone does not cut in" in error["message"]
    assert radio.runtime.broadcasts.requested == ()

    await radio.run_until(lambda: radio.outcomes().get(key) == "completed")
    await radio.run_until(lambda: not radio.coils()["amp"])
    assert [r["kind"] for r in radio.log()] == ["announcement"]
    assert radio.coils() == {"amp": False, "minh-duc": False, "trung-tam": False}
    assert await api.audited() == []


async def test_no_tone_that_would_hold_back_a_programme_due_soon(
        tmp_path: Path, radio_cabinet: SimulatedCabinet) -> None:
    async for api in make_api(tmp_path / "data", radio_cabinet,
                              MORNING_DUE - timedelta(seconds=20)):
        response = await api.tone("trung-tam", {"seconds": 1})
        assert response.status_code == 409, response.text
        message = response.json()["error"]["message"]
        assert message.startswith("broadcast programme 'morning' (Bản tin buổi sáng) is due "
                                  "at 2026-11-26T06:00:00+07:00")
        assert api.radio.runtime.broadcasts.requested == ()


async def test_no_tone_in_quiet_hours(tmp_path: Path, radio_cabinet: SimulatedCabinet) -> None:
    async for api in make_api(tmp_path / "data", radio_cabinet,
                              datetime(2026, 11, 26, 23, 0, tzinfo=ICT)):
        response = await api.tone("minh-duc")
        assert response.status_code == 409, response.text
        assert response.json()["error"]["message"].startswith("quiet hours (22:00-05:00)")


async def test_refusals_change_nothing_and_the_default_is_three_seconds(api: Api) -> None:
    coordinator = api.radio.runtime.broadcasts
    unknown = await api.tone("xom-moi")
    assert (unknown.status_code, unknown.json()["error"]) == (
        404, {"code": "not_found", "message": "no zone 'xom-moi'"})
    for body in ({"seconds": 0}, {"seconds": 11}, {"seconds": 2.5}, {"seconds": "lâu"}):
        refused = await api.tone("minh-duc", body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["field"] == "seconds", body
    extra = await api.tone("minh-duc", {"seconds": 3, "volume": 2})
    assert (extra.status_code, extra.json()["error"]["field"]) == (422, "volume")
    operator = await api.tone("minh-duc", role="operator")
    assert operator.status_code == 403
    assert not coordinator.requested
    assert await api.audited() == []

    # No body: three seconds, handed to the coordinator (which is not running here).
    sent = await api.client.post("/zones/minh-duc/test-tone", headers=api.headers["technician"])
    assert sent.status_code == 202, sent.text
    assert sent.json()["seconds"] == 3
    (item,) = coordinator.requested
    assert (item.key, item.kind, item.zones, item.level, item.source) == (
        sent.json()["key"], "test", ("minh-duc",), "normal",
        {"type": "tone", "frequency_hz": 1000, "seconds": 3})
    # One at a time: a second tone waits for nothing either.
    again = await api.tone("trung-tam")
    assert again.status_code == 409
    assert "a test tone in zone 'minh-duc' is waiting" in again.json()["error"]["message"]
