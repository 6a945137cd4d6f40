"""The radio service's use cases on a real store (a data folder in tmp_path) and a fake clock:
what it stores, what it refuses (with the field as parts) and what it records in the audit.
The broadcast coordinator is not running: what the service asks of it is answered at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.config import parse_config
from controller.errors import Conflict, InvalidInput, NotAllowed, NotFound, RequestError
from controller.platform.audit import Actor
from controller.platform.clock import FakeClock
from controller.radio.records import (
    ANNOUNCEMENTS,
    AUDIO,
    PROGRAMS,
    Announcement,
    AudioFile,
    BroadcastProgram,
    RadioBook,
)
from controller.radio.requests import AnnouncementCreate, BroadcastProgramCreate
from controller.radio.service import RadioService
from controller.runtime import Runtime, build_runtime
from tests.controller.conftest import RADIO_DAWN, radio_config_text

OPERATOR = Actor(name="operator-token", role="operator")
TECHNICIAN = Actor(name="technician-token", role="technician")
VIEWER = Actor(name="viewer-token", role="viewer")
TTS = {"type": "tts", "text": "Thông báo họp dân lúc 19:30 tại nhà văn hoá."}
LATER = (RADIO_DAWN + timedelta(hours=3)).isoformat()


async def make_runtime(tmp_path: Path, *, approval: bool) -> Runtime:
    # No relay board answers on port 9: nothing here switches a zone.
    text = radio_config_text(tmp_path / "data", 9, approval=approval)
    return build_runtime(parse_config(text), FakeClock(RADIO_DAWN))


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = await make_runtime(tmp_path, approval=False)
    yield runtime
    await runtime.devices.close()


@pytest.fixture
async def approving(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = await make_runtime(tmp_path, approval=True)
    yield runtime
    await runtime.devices.close()


def stored(runtime: Runtime) -> str:
    return json.dumps({t: runtime.store.all(t) for t in (PROGRAMS, ANNOUNCEMENTS, AUDIO)},
                      sort_keys=True)


def actions(runtime: Runtime) -> list[tuple[str, str]]:
    """Who did what, in no particular order: the fake clock stands still, so the records
    share one time."""
    return sorted((r["actor"], r["action"]) for r in runtime.audit.query())


def announcement(**fields: Any) -> AnnouncementCreate:
    return AnnouncementCreate.model_validate({"source": TTS, **fields})


def programme(**fields: Any) -> BroadcastProgramCreate:
    return BroadcastProgramCreate.model_validate(
        {"id": "evening", "schedule": {"times": ["18:00"]}, "source": TTS, **fields})


# -- announcements and their approval ---------------------------------------------------------

async def test_an_operators_announcement_waits_for_a_technicians_approval(
        approving: Runtime) -> None:
    radio = approving.radio_service
    waiting = await radio.announce(announcement(at=LATER), actor=OPERATOR)
    assert (waiting.status, waiting.approved_by) == ("waiting_approval", None)
    with pytest.raises(NotAllowed):
        await radio.approve(waiting.id, actor=OPERATOR)
    approved = await radio.approve(waiting.id, actor=TECHNICIAN)
    assert (approved.status, approved.approved_by) == ("scheduled", "technician-token")
    with pytest.raises(Conflict):
        await radio.approve(waiting.id, actor=TECHNICIAN)
    assert radio.announcement(waiting.id) == approved
    assert actions(approving) == [("operator-token", "announcement.create"),
                                  ("technician-token", "announcement.approve")]


async def test_a_technicians_announcement_never_waits(approving: Runtime) -> None:
    made = await approving.radio_service.announce(announcement(at=LATER), actor=TECHNICIAN)
    assert (made.status, made.approved_by) == ("scheduled", "technician-token")


async def test_without_approval_an_operators_announcement_is_scheduled(
        runtime: Runtime) -> None:
    made = await runtime.radio_service.announce(announcement(at=LATER), actor=OPERATOR)
    assert made.status == "scheduled"
    assert runtime.radio_service.announcements("scheduled") == [made]
    assert runtime.radio_service.announcements("waiting_approval") == []


@pytest.mark.parametrize(("fields", "error", "parts"), [
    ({"zones": ["minh-duc", "nowhere"]}, InvalidInput, ("zones", 1)),
    ({"source": {"type": "audio", "audio_id": "no-such"}}, InvalidInput, ("source",)),
    ({"at": (RADIO_DAWN - timedelta(hours=1)).isoformat()}, InvalidInput, ("at",)),
    # Inside the morning programme (06:00, minh-duc).
    ({"at": (RADIO_DAWN + timedelta(minutes=2, seconds=5)).isoformat(),
      "zones": ["minh-duc"]}, Conflict, ("at",)),
])
async def test_a_refused_announcement_names_its_field_and_stores_nothing(
        runtime: Runtime, fields: dict[str, Any], error: type[RequestError],
        parts: tuple[str | int, ...]) -> None:
    before = stored(runtime)
    with pytest.raises(error) as refused:
        await runtime.radio_service.announce(announcement(**fields), actor=OPERATOR)
    assert refused.value.parts == parts
    assert stored(runtime) == before
    assert actions(runtime) == []


async def test_an_overlap_is_kept_when_forced_and_never_refused_for_an_emergency(
        runtime: Runtime) -> None:
    clash = {"at": (RADIO_DAWN + timedelta(minutes=2, seconds=5)).isoformat(),
             "zones": ["minh-duc"]}
    radio = runtime.radio_service
    forced = await radio.announce(announcement(**clash, force=True), actor=OPERATOR)
    emergency = await radio.announce(announcement(**clash, emergency=True), actor=OPERATOR)
    assert (forced.level, emergency.level) == ("normal", "emergency")


async def test_a_viewer_cannot_announce(runtime: Runtime) -> None:
    with pytest.raises(NotAllowed):
        await runtime.radio_service.announce(announcement(), actor=VIEWER)


async def test_cancelling_logs_the_next_airing_and_is_final(runtime: Runtime) -> None:
    radio = runtime.radio_service
    made = await radio.announce(announcement(at=LATER, repeat=2), actor=OPERATOR)
    cancelled = await radio.cancel(made.id, actor=OPERATOR)
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "operator-token")
    assert [(r["key"], r["outcome"]) for r in await radio.log(since=None, until=None)] == \
        [(f"announcement:{made.id}#1", "cancelled")]
    again = await radio.cancel(made.id, actor=TECHNICIAN)
    assert again == cancelled  # not cancelled twice, not logged twice
    assert len(await radio.log(since=None, until=None)) == 1
    with pytest.raises(NotFound):
        await radio.cancel("ann-none", actor=OPERATOR)


async def test_stop_with_nothing_on_air_is_a_conflict(runtime: Runtime) -> None:
    radio = runtime.radio_service
    assert (radio.now_playing(), radio.zones_on()) == (None, ())
    with pytest.raises(Conflict):
        await radio.stop(actor=TECHNICIAN)
    with pytest.raises(NotAllowed):
        await radio.stop(actor=OPERATOR)


# -- broadcast programmes -----------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "parts"), [
    ({"schedule": {"times": ["06:00", "25:00"]}}, ("schedule", "times", 1)),
    ({"schedule": {"rrule": "FREQ=SOMETIMES"}}, ("schedule", "rrule")),
    ({"schedule": {"times": ["06:00"], "days": ["mon", "moon"]}}, ("schedule", "days", 1)),
    ({"schedule": {"times": ["06:00"], "every": "day"}}, ("schedule",)),
    ({"zones": ["nowhere"]}, ("zones", 0)),
])
async def test_a_refused_programme_names_its_field(runtime: Runtime, fields: dict[str, Any],
                                                   parts: tuple[str | int, ...]) -> None:
    before = stored(runtime)
    with pytest.raises(InvalidInput) as refused:
        await runtime.radio_service.create_program(programme(**fields), actor=OPERATOR)
    assert refused.value.parts == parts
    assert stored(runtime) == before


async def test_a_programme_is_stored_parsed_and_listed_with_its_next_airings(
        runtime: Runtime) -> None:
    radio = runtime.radio_service
    created = await radio.create_program(
        programme(schedule={"times": ["18:00"], "days": ["thu", "fri"]}), actor=OPERATOR)
    assert created.schedule_doc == {"times": ["18:00"], "days": ["thu", "fri"]}
    assert [p.id for p in radio.programs()] == ["evening", "morning"]
    assert radio.program("evening") == created
    # 2026-11-26 is a Thursday.
    assert [t.isoformat() for t in radio.next_airings(created)[:2]] == \
        ["2026-11-26T18:00:00+07:00", "2026-11-27T18:00:00+07:00"]
    with pytest.raises(Conflict) as exists:
        await radio.create_program(programme(), actor=OPERATOR)
    assert exists.value.parts == ("id",)
    assert actions(runtime) == [("operator-token", "broadcast_program.create")]


async def test_replacing_and_deleting_programmes(runtime: Runtime) -> None:
    radio = runtime.radio_service
    await radio.create_program(programme(), actor=OPERATOR)
    with pytest.raises(InvalidInput) as mismatch:
        await radio.replace_program("morning", programme(), actor=OPERATOR)
    assert mismatch.value.parts == ("id",)
    with pytest.raises(NotFound):
        await radio.replace_program("nothing", programme(id="nothing"), actor=OPERATOR)
    replaced = await radio.replace_program("evening", programme(name="Bản tin tối"),
                                           actor=OPERATOR)
    assert radio.program("evening").name == replaced.name == "Bản tin tối"
    with pytest.raises(Conflict):  # it is the config's: it would come back
        await radio.delete_program("morning", actor=OPERATOR)
    await radio.delete_program("evening", actor=OPERATOR)
    with pytest.raises(NotFound):
        radio.program("evening")


async def test_an_overlapping_programme_is_refused_unless_forced(runtime: Runtime) -> None:
    radio = runtime.radio_service
    clash = programme(schedule={"times": ["06:00"]}, zones=["minh-duc"])
    with pytest.raises(Conflict) as overlap:
        await radio.create_program(clash, actor=OPERATOR)
    assert "morning" in overlap.value.message
    forced = programme(schedule={"times": ["06:00"]}, zones=["minh-duc"], force=True)
    assert (await radio.create_program(forced, actor=OPERATOR)).id == "evening"


# -- the audio library ---------------------------------------------------------------------------

async def test_audio_in_use_is_not_deleted(runtime: Runtime) -> None:
    radio = runtime.radio_service
    folder = runtime.library.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jingle-a1b2c3.mp3").write_bytes(b"stands in for an MP3")
    RadioBook(runtime.store).put_audio_file(AudioFile(
        id="jingle-a1b2c3", name="jingle.mp3", file="jingle-a1b2c3.mp3", format="mp3",
        codec="mp3", duration_s=2.0, sample_rate=44100, channels=1, size_bytes=20,
        uploaded_by="operator-token", uploaded_at=RADIO_DAWN))
    await radio.create_program(programme(source={"type": "audio", "audio_id": "jingle-a1b2c3"}),
                               actor=OPERATOR)
    assert radio.audio_users("jingle-a1b2c3") == ["broadcast programme 'evening'"]
    with pytest.raises(Conflict):
        await radio.delete_audio("jingle-a1b2c3", actor=OPERATOR)
    await radio.delete_program("evening", actor=OPERATOR)
    deleted = await radio.delete_audio("jingle-a1b2c3", actor=OPERATOR)
    assert deleted.name == "jingle.mp3"
    assert not (folder / "jingle-a1b2c3.mp3").exists()
    with pytest.raises(NotFound):
        radio.audio_file("jingle-a1b2c3")


# -- stored documents ---------------------------------------------------------------------------

# As the first versions wrote them: the same bytes must come back.
OLD_ANNOUNCEMENT = {
    "source": TTS, "zones": ["minh-duc"], "level": "priority", "repeat": 2,
    "repeat_gap_min": 5, "title": "Họp dân", "grace_min": None, "id": "ann-0a1b2c3d",
    "at": "2026-11-25T23:00:00+00:00", "status": "scheduled", "aired": 1,
    "next_at": "2026-11-25T23:05:40.500000+00:00", "created_by": "operator-token",
    "created_at": "2026-11-26T05:58:00+07:00", "approved_by": "operator-token",
    "next_known_at": "2026-11-26T06:00:40.500000+07:00"}
OLD_PROGRAMME = {
    "id": "evening", "name": "", "schedule": {"times": ["18:00"], "days": None},
    "zones": "all", "level": "normal", "source": TTS, "enabled": True, "grace_min": 3,
    "effective_from": "2026-11-26T05:58:00+07:00", "from_a_later_version": [1, 2]}
OLD_AUDIO = {
    "id": "ban-tin-a1b2c3", "name": "bản tin.mp3", "file": "ban-tin-a1b2c3.mp3",
    "format": "mp3", "codec": "mp3", "duration_s": 2.011, "sample_rate": 44100, "channels": 1,
    "size_bytes": 16718, "uploaded_by": "operator-token",
    "uploaded_at": "2026-11-26T05:58:00+07:00"}


@pytest.mark.parametrize(("record", "doc"), [(Announcement, OLD_ANNOUNCEMENT),
                                              (BroadcastProgram, OLD_PROGRAMME),
                                              (AudioFile, OLD_AUDIO)])
def test_a_stored_document_reads_and_writes_back_the_same(record: Any,
                                                         doc: dict[str, Any]) -> None:
    assert json.dumps(record.from_doc(doc).to_doc(), ensure_ascii=False) == \
        json.dumps(doc, ensure_ascii=False)


async def test_the_service_writes_what_the_first_versions_read(runtime: Runtime) -> None:
    made = await runtime.radio_service.announce(announcement(at=LATER, title="Họp"),
                                                actor=OPERATOR)
    (doc,) = runtime.store.all(ANNOUNCEMENTS)
    assert list(doc) == ["source", "zones", "level", "repeat", "repeat_gap_min", "title",
                         "grace_min", "id", "at", "status", "aired", "next_at", "created_by",
                         "created_at", "approved_by"]
    assert (doc["at"], doc["created_at"]) == (made.at.isoformat(), made.created_at.isoformat())
    assert datetime.fromisoformat(doc["created_at"]) == RADIO_DAWN
    assert doc["at"].endswith("+00:00")  # announcements keep their time in UTC


def test_the_service_is_built_with_the_runtime(runtime: Runtime) -> None:
    assert isinstance(runtime.radio_service, RadioService)
