"""The radio's HTTP API: the audio library (real MP3s made by ffmpeg, probed by ffprobe),
broadcast programmes, announcements with approval and conflicts, stop, and the log.

Every refusal is checked to change nothing: the store and the library folder are compared
before and after.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.config import parse_config
from controller.http.app import create_app
from controller.platform.clock import FakeClock
from controller.platform.tokens import ROLES
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program
from tests.controller.conftest import RADIO_DAWN, radio_config_text

pytestmark = pytest.mark.integration

TTS = {"type": "tts", "text": "Thông báo họp dân lúc 19:30 tại nhà văn hoá."}


@pytest.fixture(scope="module")
def mp3_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ffmpeg = require_program("ffmpeg")
    path = tmp_path_factory.mktemp("media") / "bản tin.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-codec:a", "libmp3lame", "-b:a", "64k", str(path)], check=True)
    return path


@pytest.fixture
async def radio_api(
        tmp_path: Path, radio_cabinet: SimulatedCabinet,
        request: pytest.FixtureRequest) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    approval = getattr(request, "param", False)
    config = parse_config(radio_config_text(tmp_path / "data", radio_cabinet.tcp_port,
                                            approval=approval))
    runtime = build_runtime(config, FakeClock(RADIO_DAWN))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport,
                                 base_url="http://testserver/api/v1") as client:
        yield runtime, client
    await runtime.devices.close()


@pytest.fixture
def auth(radio_api: tuple[Runtime, httpx.AsyncClient]) -> dict[str, dict[str, str]]:
    runtime, _ = radio_api
    headers = {}
    for role in ROLES:
        secret, _ = runtime.tokens.create(name=f"{role}-token", role=role, expires_days=None,
                                          now=runtime.clock.now())
        headers[role] = {"Authorization": f"Bearer {secret}"}
    return headers


def snapshot(runtime: Runtime) -> tuple[Any, ...]:
    store = {t: sorted(json.dumps(d, sort_keys=True) for d in runtime.store.all(t))
             for t in ("audio", "broadcast_programs", "announcements")}
    files = sorted(str(p.relative_to(runtime.config.storage.path))
                   for p in runtime.config.storage.path.rglob("*") if p.is_file()
                   and "history" not in p.parts and p.name != "state.json")
    return json.dumps(store, sort_keys=True), files


async def upload(client: httpx.AsyncClient, headers: dict[str, str], name: str,
                 content: bytes) -> httpx.Response:
    return await client.post("/audio", headers=headers, files={"file": (name, content)})


# -- the audio library ---------------------------------------------------------------------------

async def test_a_real_mp3_is_probed_and_kept(radio_api: tuple[Runtime, httpx.AsyncClient],
                                             auth: dict[str, dict[str, str]],
                                             mp3_file: Path) -> None:
    _, client = radio_api
    response = await upload(client, auth["operator"], mp3_file.name, mp3_file.read_bytes())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["format"], body["name"]) == ("mp3", "bản tin.mp3")
    assert abs(body["duration_s"] - 2.0) < 0.2
    download = await client.get(f"/audio/{body['id']}/file", headers=auth["viewer"])
    assert (download.status_code, download.content) == (200, mp3_file.read_bytes())
    assert download.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize(("name", "content"), [
    ("song.mp3", b"ID3 this is only text pretending to be an mp3\n" * 50),
    ("empty.mp3", b""),
    ("page.mp3", b"<html><body>not audio</body></html>"),
])
async def test_a_file_that_only_pretends_to_be_audio_is_refused(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        name: str, content: bytes) -> None:
    require_program("ffprobe")
    runtime, client = radio_api
    before = snapshot(runtime)
    response = await upload(client, auth["operator"], name, content)
    assert (response.status_code, response.json()["error"]["code"]) == \
        (415, "unsupported_media_type")
    assert snapshot(runtime) == before


async def test_an_upload_over_the_limit_is_413(radio_api: tuple[Runtime, httpx.AsyncClient],
                                               auth: dict[str, dict[str, str]]) -> None:
    runtime, client = radio_api
    before = snapshot(runtime)
    response = await upload(client, auth["operator"], "big.mp3", b"\0" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert snapshot(runtime) == before


@pytest.mark.parametrize("name", ["../../etc/passwd.mp3", "..\\..\\boot.ini.mp3",
                                  "/etc/shadow.mp3", "a\x00b.mp3"])
async def test_a_name_never_leaves_the_library_folder(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path, name: str) -> None:
    runtime, client = radio_api
    response = await upload(client, auth["operator"], name, mp3_file.read_bytes())
    assert response.status_code == 201, response.text
    stored = runtime.library.path_of(runtime.library.get(response.json()["id"]))
    assert stored.resolve().parent == runtime.library.folder.resolve()
    assert "/" not in response.json()["name"] and "\\" not in response.json()["name"]


async def test_upload_needs_multipart_and_an_operator(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path) -> None:
    _, client = radio_api
    as_viewer = await upload(client, auth["viewer"], "x.mp3", mp3_file.read_bytes())
    as_json = await client.post("/audio", headers=auth["operator"], json={"file": "x"})
    assert (as_viewer.status_code, as_json.status_code) == (403, 415)


async def test_audio_in_use_cannot_be_deleted(radio_api: tuple[Runtime, httpx.AsyncClient],
                                              auth: dict[str, dict[str, str]],
                                              mp3_file: Path) -> None:
    _, client = radio_api
    audio_id = (await upload(client, auth["operator"], "jingle.mp3",
                             mp3_file.read_bytes())).json()["id"]
    created = await client.post("/broadcast-programs", headers=auth["operator"], json={
        "id": "jingle", "schedule": {"times": ["12:00"]},
        "source": {"type": "audio", "audio_id": audio_id}})
    assert created.status_code == 201, created.text
    refused = await client.delete(f"/audio/{audio_id}", headers=auth["operator"])
    assert refused.status_code == 409
    await client.delete("/broadcast-programs/jingle", headers=auth["operator"])
    deleted = await client.delete(f"/audio/{audio_id}", headers=auth["operator"])
    gone = await client.get(f"/audio/{audio_id}", headers=auth["viewer"])
    assert (deleted.status_code, gone.status_code) == (204, 404)


async def test_an_audio_file_is_renamed_and_says_where_it_is_used(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path) -> None:
    runtime, client = radio_api
    audio_id = (await upload(client, auth["operator"], "jingle.mp3",
                             mp3_file.read_bytes())).json()["id"]
    renamed = await client.patch(f"/audio/{audio_id}", headers=auth["operator"],
                                 json={"name": "  Nhạc hiệu buổi sáng  "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**renamed.json(), "id": audio_id, "name": "Nhạc hiệu buổi sáng",
                              "used_by": []}
    audited = [(r["target"], r["actor"], r["details"])
               for r in runtime.audit.query() if r["action"] == "audio.rename"]
    assert audited == [(audio_id, "operator-token",
                        {"name": "Nhạc hiệu buổi sáng", "previous": "jingle.mp3"})]
    programme = await client.post("/broadcast-programs", headers=auth["operator"], json={
        "id": "noon-jingle", "name": "Nhạc trưa", "schedule": {"times": ["12:00"]},
        "source": {"type": "playlist", "items": [
            {"type": "audio", "audio_id": audio_id}, {"type": "tts", "text": "Xin chào"},
            {"type": "audio", "audio_id": audio_id}]}})
    assert programme.status_code == 201, programme.text
    announced = (await client.post("/announcements", headers=auth["operator"], json={
        "at": (runtime.clock.now() + timedelta(hours=2)).isoformat(), "title": "Họp dân",
        "source": {"type": "audio", "audio_id": audio_id}})).json()
    listed = (await client.get("/audio", headers=auth["viewer"])).json()
    one = (await client.get(f"/audio/{audio_id}", headers=auth["viewer"])).json()
    assert listed == [one]
    assert one["name"] == "Nhạc hiệu buổi sáng"
    assert one["used_by"] == [
        {"kind": "broadcast_program", "id": "noon-jingle", "name": "Nhạc trưa"},
        {"kind": "announcement", "id": announced["id"], "name": "Họp dân"}]
    await client.delete(f"/announcements/{announced['id']}", headers=auth["operator"])
    after = (await client.get(f"/audio/{audio_id}", headers=auth["viewer"])).json()
    assert [u["id"] for u in after["used_by"]] == ["noon-jingle"]  # a cancelled one plays nothing


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"name": ""}, 422, "name"),
    ({"name": "   "}, 422, "name"),
    ({"name": "\u0007\u0008"}, 422, "name"),
    ({"name": "x" * 121}, 422, "name"),
    ({"name": "ok", "file": "x.mp3"}, 422, "file"),
    ({}, 422, "name"),
])
async def test_a_bad_name_is_refused_and_changes_nothing(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path, body: dict[str, Any], status: int, field: str) -> None:
    runtime, client = radio_api
    audio_id = (await upload(client, auth["operator"], "jingle.mp3",
                             mp3_file.read_bytes())).json()["id"]
    before = snapshot(runtime)
    response = await client.patch(f"/audio/{audio_id}", headers=auth["operator"], json=body)
    assert (response.status_code, response.json()["error"]["field"]) == (status, field)
    assert snapshot(runtime) == before


async def test_renaming_an_unknown_file_or_as_a_viewer_is_refused(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path) -> None:
    _, client = radio_api
    audio_id = (await upload(client, auth["operator"], "jingle.mp3",
                             mp3_file.read_bytes())).json()["id"]
    missing = await client.patch("/audio/no-such", headers=auth["operator"],
                                 json={"name": "x"})
    viewer = await client.patch(f"/audio/{audio_id}", headers=auth["viewer"],
                                json={"name": "x"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert viewer.status_code == 403


# -- programmes and announcements: bad input changes nothing --------------------------------------

@pytest.mark.parametrize(("path", "body", "field"), [
    ("/broadcast-programs", {"id": "x", "schedule": {"rrule": "FREQ=SOMETIMES"},
                             "source": TTS}, "schedule.rrule"),
    ("/broadcast-programs", {"id": "x", "schedule": {"times": ["25:00"]}, "source": TTS},
     "schedule.times.0"),
    ("/broadcast-programs", {"id": "x", "schedule": {"times": ["07:00"]}, "zones": ["nowhere"],
                             "source": TTS}, "zones.0"),
    ("/announcements", {"source": TTS, "zones": ["nowhere"]}, "zones.0"),
    ("/announcements", {"source": {"type": "audio", "audio_id": "no-such"}}, "source"),
    ("/announcements", {"source": {"type": "tts", "text": "chữ " * 2000}}, "source.text"),
    ("/announcements", {"source": {"type": "tts", "text": "   "}}, "source.text"),
    ("/announcements", {"source": TTS, "at": "2026-11-25T06:00:00+07:00"}, "at"),
    ("/announcements", {"source": TTS, "level": "urgent"}, "level"),
    ("/announcements", {"source": {"type": "stream", "url": "file:///etc/passwd",
                                   "duration_s": 60}}, "source.url"),
])
async def test_bad_input_is_422_and_changes_nothing(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        path: str, body: dict[str, Any], field: str) -> None:
    runtime, client = radio_api
    before = snapshot(runtime)
    response = await client.post(path, headers=auth["operator"], json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith(field), response.json()
    assert snapshot(runtime) == before


async def test_overlapping_items_in_the_same_zone_conflict_unless_forced(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]]) -> None:
    runtime, client = radio_api
    at = "2026-11-26T06:00:05+07:00"  # inside the morning programme in minh-duc
    clash = {"source": TTS, "zones": ["minh-duc"], "at": at}
    before = snapshot(runtime)
    refused = await client.post("/announcements", headers=auth["operator"], json=clash)
    assert (refused.status_code, refused.json()["error"]["field"]) == (409, "at")
    assert "morning" in refused.json()["error"]["message"]
    assert snapshot(runtime) == before
    elsewhere = await client.post("/announcements", headers=auth["operator"],
                                  json={**clash, "zones": ["trung-tam"]})
    forced = await client.post("/announcements", headers=auth["operator"],
                               json={**clash, "force": True})
    emergency = await client.post("/announcements", headers=auth["operator"],
                                  json={**clash, "emergency": True})
    assert [r.status_code for r in (elsewhere, forced, emergency)] == [201, 201, 201]
    assert emergency.json()["level"] == "emergency"


@pytest.mark.parametrize("radio_api", [True], indirect=True)
async def test_an_operators_announcement_waits_for_approval(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]]) -> None:
    _, client = radio_api
    by_operator = (await client.post("/announcements", headers=auth["operator"],
                                     json={"source": TTS})).json()
    by_technician = (await client.post("/announcements", headers=auth["technician"],
                                       json={"source": TTS, "force": True})).json()
    assert (by_operator["status"], by_technician["status"]) == ("waiting_approval", "scheduled")
    denied = await client.post(f"/announcements/{by_operator['id']}/approve",
                               headers=auth["operator"])
    approved = await client.post(f"/announcements/{by_operator['id']}/approve",
                                 headers=auth["admin"])
    again = await client.post(f"/announcements/{by_operator['id']}/approve",
                              headers=auth["admin"])
    assert [r.status_code for r in (denied, approved, again)] == [403, 200, 409]
    assert approved.json()["approved_by"] == "admin-token"


async def test_cancelling_an_announcement_logs_it(radio_api: tuple[Runtime, httpx.AsyncClient],
                                                  auth: dict[str, dict[str, str]]) -> None:
    runtime, client = radio_api
    later = (runtime.clock.now() + timedelta(hours=3)).isoformat()
    created = (await client.post("/announcements", headers=auth["operator"],
                                 json={"source": TTS, "at": later})).json()
    cancelled = await client.delete(f"/announcements/{created['id']}", headers=auth["operator"])
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    log = (await client.get("/broadcasts/log", headers=auth["viewer"])).json()
    assert [(r["ref"], r["outcome"]) for r in log] == [(created["id"], "cancelled")]
    missing = await client.delete("/announcements/ann-none", headers=auth["operator"])
    assert missing.status_code == 404


async def test_the_log_as_csv_and_stop_with_nothing_on_air(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]]) -> None:
    runtime, client = radio_api
    later = (runtime.clock.now() + timedelta(hours=3)).isoformat()
    created = (await client.post("/announcements", headers=auth["operator"],
                                 json={"source": TTS, "at": later, "title": "Họp dân"})).json()
    await client.delete(f"/announcements/{created['id']}", headers=auth["operator"])
    response = await client.get("/broadcasts/log", headers=auth["viewer"],
                                params={"from": "2026-11-01", "to": "2026-11-30",
                                        "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    # What Excel needs to read it is checked in test_exports.py: BOM, local times, names.
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["title"], r["outcome"], r["zone_ids"]) for r in rows] == \
        [("Họp dân", "cancelled", "minh-duc trung-tam")]
    stop = await client.post("/broadcasts/stop", headers=auth["technician"])
    now = await client.get("/broadcasts/now", headers=auth["viewer"])
    assert (stop.status_code, now.json()) == (409, {"on_air": False, "item": None,
                                                    "zones_on": []})


async def test_programmes_list_their_next_airings(radio_api: tuple[Runtime, httpx.AsyncClient],
                                                  auth: dict[str, dict[str, str]]) -> None:
    _, client = radio_api
    created = await client.post("/broadcast-programs", headers=auth["operator"], json={
        "id": "lunar", "name": "Ngày rằm", "zones": ["trung-tam"],
        "schedule": {"lunar_days": [1, 15], "times": ["07:00"]}, "source": TTS})
    assert created.status_code == 201, created.text
    listed = {p["id"]: p for p in (await client.get("/broadcast-programs",
                                                    headers=auth["viewer"])).json()}
    assert set(listed) == {"morning", "lunar"}
    # Which dates: schedules.lunar, tested against published calendars in its own tests.
    assert all(t.endswith("T07:00:00+07:00") for t in listed["lunar"]["next_airings"])
    assert listed["morning"]["next_airings"][0] == "2026-11-26T06:00:00+07:00"


# -- the week view: the four schedule choices (docs/api.md) in GET /plan -------------------------

WEEK_CHOICES = {
    "weekdays": {"times": ["17:00"], "days": ["mon", "wed", "fri"]},
    "lunar": {"times": ["06:30"], "lunar_days": [1, 15]},
    "once": {"times": ["08:00"], "valid_from": "2027-02-03", "valid_until": "2027-02-03"},
}


async def test_a_week_of_the_plan_has_every_airing_with_its_programme(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        mp3_file: Path) -> None:
    _, client = radio_api
    audio_id = (await upload(client, auth["operator"], "jingle.mp3",
                             mp3_file.read_bytes())).json()["id"]
    for program_id, schedule in WEEK_CHOICES.items():
        created = await client.post("/broadcast-programs", headers=auth["operator"], json={
            "id": program_id, "schedule": schedule, "zones": ["trung-tam"],
            "source": {"type": "audio", "audio_id": audio_id}})
        assert created.status_code == 201, created.text
    # Monday 2027-02-01 to Sunday 2027-02-07; Tết (lunar 1/1) is Saturday 2027-02-06, and
    # the lunar 15th before it was 2027-01-22.
    week = await client.get("/plan", headers=auth["viewer"],
                            params={"from": "2027-02-01", "days": 7})
    assert week.status_code == 200, week.text
    aired = [(e["time"], e["program"]) for e in week.json()["entries"]
             if e["kind"] == "broadcast"]
    # The config's "morning" is {"times": ["06:00"]}: every day.
    expected = sorted(
        [(f"2027-02-0{d}T06:00:00+07:00", "morning") for d in range(1, 8)]
        + [(f"2027-02-0{d}T17:00:00+07:00", "weekdays") for d in (1, 3, 5)]
        + [("2027-02-06T06:30:00+07:00", "lunar"), ("2027-02-03T08:00:00+07:00", "once")])
    assert sorted(aired) == expected
    before = await client.get("/plan", headers=auth["viewer"],
                              params={"from": "2027-01-18", "days": 7})
    assert [(e["time"], e["program"]) for e in before.json()["entries"]
            if e["program"] not in ("morning",)] == [
        ("2027-01-18T17:00:00+07:00", "weekdays"), ("2027-01-20T17:00:00+07:00", "weekdays"),
        ("2027-01-22T06:30:00+07:00", "lunar"), ("2027-01-22T17:00:00+07:00", "weekdays")]


async def test_zones_are_listed_and_show_when_they_are_on(
        radio_api: tuple[Runtime, httpx.AsyncClient], auth: dict[str, dict[str, str]],
        radio_cabinet: SimulatedCabinet) -> None:
    runtime, client = radio_api
    before = (await client.get("/zones", headers=auth["viewer"])).json()
    assert before == [
        {"id": "minh-duc", "name": "Thôn Minh Đức", "on": False, "amplifier": "amp-1",
         "nodes": []},
        {"id": "trung-tam", "name": "Trung tâm xã", "on": False, "amplifier": "amp-1",
         "nodes": []}]
    await runtime.broadcasts.zones.apply(frozenset({"trung-tam"}))
    after = (await client.get("/zones", headers=auth["viewer"])).json()
    assert [(z["id"], z["on"]) for z in after] == [("minh-duc", False), ("trung-tam", True)]
    assert radio_cabinet.coils(3)[2] is True  # the zone's relay, on the simulated board
