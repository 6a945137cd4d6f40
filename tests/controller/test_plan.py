"""The plan (docs/plan.md) of the demo installation: lighting and broadcasts, as JSON, as a table
and as an iCalendar feed read back by the ``icalendar`` parser a calendar app's would match;
through ``communectl plan`` and ``GET /api/v1/plan``, which must agree."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from controller.cli import main
from controller.config import Config, load_config
from controller.demo import demo_config
from controller.http.app import create_app
from controller.lighting.programs import site_of
from controller.plan import build_window_plan, read_only_sources, window_bounds
from controller.platform.clock import FakeClock
from controller.platform.tokens import ROLES
from controller.runtime import Runtime, build_runtime
from tests.conftest import require_program

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
FROM = "2026-11-26"  # a Thursday: the window of two plan days runs to Saturday noon
DAYS = 2
ZONE_NAMES = "Thôn Minh Đức, Trung tâm xã"
LIGHTING_KEYS = {"time", "kind", "target", "state", "level", "rule", "program", "name"}
CHIME_S = 1.3  # the ding-dong before an announcement (controller.radio.sources)
# The API's fake clock: the morning of the first day, before the window opens at noon.
API_MORNING = datetime(2026, 11, 26, 8, 0, tzinfo=ICT)


def speech_s(text: str, config: Config) -> float:
    """The length the controller expects of a text it has not synthesised yet: its words read
    at the configured rate."""
    return len(text.split()) * 60 / config.broadcast.tts_words_per_minute


def demo_speech_s(program_id: str) -> int:
    config = demo_config()
    program = next(p for p in config.broadcast_programs if p.id == program_id)
    return math.ceil(speech_s(program.source.text, config))  # type: ignore[union-attr]


def whole_utc(text: str) -> datetime:
    """A plan time as the calendar carries it: UTC, whole seconds."""
    return datetime.fromisoformat(text).astimezone(UTC).replace(microsecond=0)


def events_of(ics: str) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(ics)
    return list(calendar.walk("VEVENT"))


def span(event: icalendar.Event) -> tuple[datetime, datetime]:
    return event.decoded("DTSTART"), event.decoded("DTEND")


def lit_pairs(entries: list[dict[str, Any]]) -> set[tuple[str, datetime, datetime]]:
    """Each "on" of a circuit in the JSON plan with the circuit's next transition."""
    by_circuit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        if entry["kind"] == "lighting":
            by_circuit[entry["target"]].append(entry)
    return {(f"{this['name']} bật {this['level']}%", whole_utc(this["time"]),
             whole_utc(after["time"]))
            for changes in by_circuit.values()
            for this, after in itertools.pairwise(changes) if this["state"] == "on"}


def assert_valid_calendar(events: list[icalendar.Event]) -> None:
    """RFC 5545: every event has a UID (unique here), a DTSTAMP, and ends after it starts."""
    assert events
    for event in events:
        start, end = span(event)
        assert end > start, event["SUMMARY"]
        assert isinstance(event.decoded("DTSTAMP"), datetime)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)


# -- the CLI on the embedded demo ---------------------------------------------------------------

@pytest.fixture
def plan_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``communectl plan`` of the embedded demo (no config anywhere; its storage would be
    ./communectl-data) over the two plan days from FROM; returns what it printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMMUNECTL_CONFIG", str(tmp_path / "no-config.toml"))

    def run(*args: str) -> str:
        code = main(["plan", "--from", FROM, "--days", str(DAYS), *args])
        printed = capsys.readouterr()
        assert code == 0, printed.err
        return printed.out

    return run


def test_the_demo_calendar_has_real_lengths_and_names(plan_cli: Callable[..., str],
                                                      tmp_path: Path) -> None:
    events = events_of(plan_cli("--format", "ics"))
    entries = json.loads(plan_cli("--format", "json"))
    assert_valid_calendar(events)
    lighting = {(str(e["SUMMARY"]), *span(e)) for e in events
                if "Chiếu sáng" in str(e["CATEGORIES"].to_ical().decode())}
    # One event per lit span, exactly the JSON plan's on/off pairs; 4 circuits, 2 nights,
    # part-night twice a night, half-after-23 at two levels.
    assert lighting == lit_pairs(entries)
    assert len(lighting) == 2 * (2 + 2 + 2 + 1)
    assert {s for s, _, _ in lighting} == {
        "Chợ Thiệu Long bật 100%", "Đường số 5 bật 100%", "Trục Quốc lộ 45 bật 100%",
        "Trục Quốc lộ 45 bật 50%", "Ngõ xóm thôn Minh Đức bật 100%"}
    broadcasts = sorted(
        (start.astimezone(ICT).strftime("%d %H:%M:%S"), str(e["SUMMARY"]),
         (end - start).total_seconds())
        for e in events if str(e["SUMMARY"]).startswith("Phát thanh")
        for start, end in [span(e)])
    morning, evening = demo_speech_s("morning"), demo_speech_s("evening")
    # Broadcasts by calendar day: the 26th's and the 27th's, the morning of the 28th not.
    assert broadcasts == [
        ("26 06:00:00", f"Phát thanh: Bản tin buổi sáng ({ZONE_NAMES})", morning),
        ("26 17:30:00", f"Phát thanh: Bản tin buổi chiều ({ZONE_NAMES})", evening),
        ("27 06:00:00", f"Phát thanh: Bản tin buổi sáng ({ZONE_NAMES})", morning),
        ("27 17:30:00", f"Phát thanh: Bản tin buổi chiều ({ZONE_NAMES})", evening),
    ]
    assert len(events) == len(lighting) + len(broadcasts)
    assert not (tmp_path / "communectl-data").exists()  # the plan writes nothing


def test_the_demo_json_lists_the_bulletins_beside_the_lighting(
        plan_cli: Callable[..., str]) -> None:
    entries = json.loads(plan_cli("--format", "json"))
    lighting = [e for e in entries if e["kind"] == "lighting"]
    broadcasts = [e for e in entries if e["kind"] == "broadcast"]
    assert all(set(e) == LIGHTING_KEYS for e in lighting)
    assert {e["name"] for e in lighting if e["target"] == "market"} == {"Chợ Thiệu Long"}
    assert [(e["target"], e["time"]) for e in broadcasts] == [
        ("morning", "2026-11-26T06:00:00+07:00"), ("evening", "2026-11-26T17:30:00+07:00"),
        ("morning", "2026-11-27T06:00:00+07:00"), ("evening", "2026-11-27T17:30:00+07:00")]
    duration_s = demo_speech_s("morning")
    assert broadcasts[2] == {
        "time": "2026-11-27T06:00:00+07:00", "kind": "broadcast", "target": "morning",
        "state": "on", "level": 100, "rule": "06:00 every day", "program": "morning",
        "name": "Bản tin buổi sáng", "item": "program",
        "key": "program:morning@2026-11-27T06:00:00+07:00",
        "zones": ["minh-duc", "trung-tam"], "zone_names": ["Thôn Minh Đức", "Trung tâm xã"],
        "broadcast_level": "normal", "duration_s": duration_s,
        "end": (datetime(2026, 11, 27, 6, 0, tzinfo=ICT)
                + timedelta(seconds=duration_s)).isoformat(),
        "source_type": "tts", "status": "scheduled"}
    assert broadcasts[1]["rule"] == "17:30 mon,tue,wed,thu,fri,sat"
    times = [datetime.fromisoformat(e["time"]) for e in entries]
    assert times == sorted(times)
    assert all(e["time"].endswith("+07:00") for e in entries)


def test_the_table_shows_the_bulletins_with_names(plan_cli: Callable[..., str]) -> None:
    lines = plan_cli().splitlines()
    morning = [line for line in lines if " broadcast " in line and " morning " in line]
    assert len(morning) == 2
    assert morning[0].startswith("2026-11-26T06:00+07:00")
    assert f"Bản tin buổi sáng: {demo_speech_s('morning')} s" in morning[0]
    assert morning[0].endswith(ZONE_NAMES)
    assert any(line.startswith("2026-11-26T23:00+07:00") and "Trục Quốc lộ 45" in line
               and " 50 " in line for line in lines)


def test_the_help_names_both(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "lighting transitions and broadcasts in a window" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "option"), [
    (["--from", "1700-01-01"], "--from"),
    (["--from", "2197-06-01", "--days", "3000"], "--days"),
])
def test_a_window_outside_the_calendar_is_one_line(
        args: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMMUNECTL_CONFIG", str(tmp_path / "no-config.toml"))
    assert main(["plan", *args]) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines()[-1].startswith(f"communectl plan: {option}: ")
    assert "Traceback" not in printed.err


# -- a circuit lit across the window's edge ------------------------------------------------------

def test_a_span_lit_at_noon_is_one_event_from_when_it_began(tmp_path: Path) -> None:
    """A window from 10:00 to 14:00 is lit when a plan day begins at noon, and again when it
    ends: both events run from 10:00 to 14:00, not from or to the plan's edges."""
    text = demo_text(tmp_path).replace('program = "all-night"', 'program = "midday"') + '''
[[lighting_programs]]
id = "midday"
windows = [{ on = "10:00", off = "14:00" }]
'''
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    site = site_of(config)
    start, end = window_bounds(site, date(2026, 11, 26), 1)
    result = build_window_plan(config, read_only_sources(config), start=start, end=end)
    lanes = [(s.start, s.end, s.level) for s in result.spans if s.circuit == "minh-duc-lanes"]
    assert lanes == [(datetime(2026, 11, day, 10, 0, tzinfo=ICT),
                      datetime(2026, 11, day, 14, 0, tzinfo=ICT), 100) for day in (26, 27)]


# -- the API, on storage edited through the API --------------------------------------------------

def demo_text(tmp_path: Path, *, approval: bool = False) -> str:
    """The demo config with its storage under ``tmp_path``."""
    text = resources.files("controller").joinpath("demo_config.toml").read_text(
        encoding="utf-8")
    text = text.replace('path = "communectl-data"', f'path = "{tmp_path / "data"}"')
    return text.replace('quiet_hours = "22:00-05:00"', 'quiet_hours = "22:00-05:00"\n'
                        f'require_approval = {str(approval).lower()}')


@pytest.fixture
async def demo_api(tmp_path: Path) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient, Path]]:
    """The demo (announcements need approval) served in-process, and its config file."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(demo_text(tmp_path, approval=True), encoding="utf-8")
    runtime = build_runtime(load_config(config_file), FakeClock(API_MORNING))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport,
                                 base_url="http://testserver/api/v1") as client:
        yield runtime, client, config_file
    await runtime.devices.close()


@pytest.fixture
def auth(demo_api: tuple[Runtime, httpx.AsyncClient, Path]) -> dict[str, dict[str, str]]:
    runtime = demo_api[0]
    headers = {}
    for role in ROLES:
        secret, _ = runtime.tokens.create(name=f"{role}-token", role=role, expires_days=None,
                                          now=runtime.clock.now())
        headers[role] = {"Authorization": f"Bearer {secret}"}
    return headers


MEETING = {"type": "tts", "text": "Mời bà con thôn Minh Đức họp lúc 19 giờ 30 tại nhà văn hoá."}


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_api_plan_lists_announcements_and_keeps_quiet_hours(
        demo_api: tuple[Runtime, httpx.AsyncClient, Path], auth: dict[str, dict[str, str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    runtime, client, config_file = demo_api
    waiting = await created(await client.post("/announcements", headers=auth["operator"], json={
        "at": "2026-11-26T19:00:00+07:00", "source": MEETING, "zones": ["minh-duc"],
        "title": "Họp dân"}))
    approved = await created(await client.post("/announcements", headers=auth["technician"],
                                               json={"at": "2026-11-27T08:00:00+07:00",
                                                     "source": MEETING, "repeat": 2}))
    dropped = await created(await client.post("/announcements", headers=auth["technician"],
                                              json={"at": "2026-11-27T09:00:00+07:00",
                                                    "source": MEETING}))
    assert (await client.delete(f"/announcements/{dropped['id']}",
                                headers=auth["operator"])).status_code == 200
    for program in ({"id": "late", "name": "Nhạc đêm", "schedule": {"times": ["23:00"]},
                     "source": MEETING},
                    {"id": "flood", "name": "Cảnh báo lũ", "schedule": {"times": ["23:30"]},
                     "level": "emergency", "zones": ["trung-tam"], "source": MEETING}):
        await created(await client.post("/broadcast-programs", headers=auth["operator"],
                                        json=program))

    response = await client.get("/plan", params={"from": FROM, "days": DAYS},
                                headers=auth["viewer"])
    assert response.status_code == 200, response.text
    body = response.json()
    broadcasts = {(e["target"], e["time"]): e for e in body["entries"]
                  if e["kind"] == "broadcast"}
    announced_s = math.ceil(speech_s(MEETING["text"], runtime.config) + CHIME_S)
    assert broadcasts[waiting["id"], "2026-11-26T19:00:00+07:00"] | {"key": None} == {
        "time": "2026-11-26T19:00:00+07:00", "kind": "broadcast", "target": waiting["id"],
        "state": "on", "level": 100, "rule": "announcement", "program": None,
        "name": "Họp dân", "item": "announcement", "key": None, "zones": ["minh-duc"],
        "zone_names": ["Thôn Minh Đức"], "broadcast_level": "normal",
        "duration_s": announced_s,
        "end": (datetime(2026, 11, 26, 19, 0, tzinfo=ICT)
                + timedelta(seconds=announced_s)).isoformat(),
        "source_type": "tts", "status": "waiting_approval"}
    first_of_two = broadcasts[approved["id"], "2026-11-27T08:00:00+07:00"]
    assert (first_of_two["status"], first_of_two["rule"]) == \
        ("scheduled", "announcement, airing 1 of 2")
    assert not [key for key in broadcasts if key[0] == dropped["id"]]  # cancelled
    # A normal programme in quiet hours never airs: left out, and said why; an emergency does.
    assert not [key for key in broadcasts if key[0] == "late"]
    assert [(n["day"], n["program"]) for n in body["skipped"]] == [
        ("2026-11-26", "late"), ("2026-11-27", "late")]
    assert all("quiet hours 22:00-05:00" in n["reason"] for n in body["skipped"])
    assert [(e["time"], e["broadcast_level"]) for e in broadcasts.values()
            if e["target"] == "flood"] == [("2026-11-26T23:30:00+07:00", "emergency"),
                                           ("2026-11-27T23:30:00+07:00", "emergency")]

    # The CLI reads the same storage and prints the same entries.
    assert main(["plan", "--config", str(config_file), "--from", FROM, "--days", str(DAYS),
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == body["entries"]

    calendar = await client.get("/plan", params={"from": FROM, "days": DAYS, "format": "ics"},
                                headers=auth["viewer"])
    assert calendar.headers["content-type"].startswith("text/calendar")
    events = events_of(calendar.text)
    assert_valid_calendar(events)
    by_summary: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for event in events:
        by_summary[str(event["SUMMARY"])].append(span(event))
    [(meeting_start, meeting_end)] = by_summary["Thông báo (chờ duyệt): Họp dân (Thôn Minh Đức)"]
    assert (meeting_end - meeting_start).total_seconds() == announced_s
    assert [start for start, _ in by_summary["Phát thanh khẩn cấp: Cảnh báo lũ (Trung tâm xã)"]] \
        == [datetime(2026, 11, 26, 16, 30, tzinfo=UTC), datetime(2026, 11, 27, 16, 30, tzinfo=UTC)]
    assert lit_pairs(body["entries"]) == {(summary, start, end)
                                          for summary, spans in by_summary.items()
                                          if " bật " in summary for start, end in spans}


@pytest.fixture(scope="module")
def jingle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of MP3, made by ffmpeg."""
    ffmpeg = require_program("ffmpeg")
    path = tmp_path_factory.mktemp("media") / "nhạc hiệu.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    "-codec:a", "libmp3lame", "-b:a", "64k", str(path)], check=True)
    return path


@pytest.mark.integration
async def test_a_playlist_lasts_its_audio_file_and_its_stream(
        demo_api: tuple[Runtime, httpx.AsyncClient, Path], auth: dict[str, dict[str, str]],
        jingle: Path) -> None:
    require_program("ffprobe")
    _, client, _ = demo_api
    mp3 = jingle
    upload = await created(await client.post("/audio", headers=auth["operator"],
                                             files={"file": (mp3.name, mp3.read_bytes())}))
    await created(await client.post("/broadcast-programs", headers=auth["operator"], json={
        "id": "relay", "name": "Tiếp âm Đài tỉnh", "schedule": {"times": ["12:30"]},
        "source": {"type": "playlist", "items": [
            {"type": "audio", "audio_id": upload["id"]},
            {"type": "stream", "url": "http://radio.example/vov1", "duration_s": 120}]}}))
    body = (await client.get("/plan", params={"from": FROM}, headers=auth["viewer"])).json()
    relayed = [e for e in body["entries"] if e["target"] == "relay"]
    assert [(e["time"], e["source_type"], e["duration_s"]) for e in relayed] == [
        ("2026-11-26T12:30:00+07:00", "playlist", math.ceil(upload["duration_s"] + 120))]


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "1700-01-01"}, "from"),
    ({"from": "2198-01-02"}, "from"),
    ({"days": 367}, "days"),
    ({"format": "pdf"}, "format"),
])
async def test_bad_windows_are_422(demo_api: tuple[Runtime, httpx.AsyncClient, Path],
                                   auth: dict[str, dict[str, str]], params: dict[str, Any],
                                   field: str) -> None:
    response = await demo_api[1].get("/plan", params=params, headers=auth["viewer"])
    assert (response.status_code, response.json()["error"]["field"]) == (422, field)
