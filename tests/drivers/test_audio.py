"""Playback outputs: pacing on a fake clock, WAV files that survive preemption, real aplay."""

from __future__ import annotations

import asyncio
import wave
from array import array
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.platform.clock import FakeClock, SystemClock
from drivers.audio import (
    AlsaSink,
    FileSink,
    NullSink,
    apply_volume,
    chime,
    chunks_of,
    iter_pcm,
    make_sink,
    play,
    silence,
)
from drivers.errors import AudioError
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH
from tests.conftest import require_program

START = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
CHUNK_FRAMES = round(0.1 * PCM_RATE)


def ramp(seconds: float) -> bytes:
    """Distinct, non-silent house PCM, so that a prefix can be recognised in a file."""
    return array("h", (n % 20000 - 10000 for n in range(round(seconds * PCM_RATE)))).tobytes()


def samples(pcm: bytes) -> list[int]:
    return array("h", pcm).tolist()


def read_wav(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        fmt = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        return fmt, wav.readframes(wav.getnframes())


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def test_file_sink_is_paced_by_the_clock_and_writes_a_wav(
        tmp_path: Path, clock: FakeClock) -> None:
    pcm = ramp(1.0)
    sink = FileSink(tmp_path, clock)
    path = tmp_path / "20250301T110000Z_news.wav"
    task = asyncio.create_task(play(sink, "20250301T110000Z_news", iter_pcm(pcm)))
    await settle()

    assert not task.done()
    assert 0 < path.stat().st_size - 44 < len(pcm)  # partly written, waiting for the clock

    await clock.advance(1.0)
    seconds = await task

    assert seconds == 1.0
    assert read_wav(path) == ((PCM_CHANNELS, PCM_WIDTH, PCM_RATE), pcm)


async def test_first_sample_is_reported_once_with_the_pacer_time(
        tmp_path: Path, clock: FakeClock) -> None:
    reported: list[float] = []
    task = asyncio.create_task(play(FileSink(tmp_path, clock), "item", iter_pcm(silence(1.0)),
                                    on_first_sample=reported.append))
    await clock.advance(1.0)
    await task

    assert reported == [1000.0]


async def test_cancelled_play_leaves_a_valid_wav_of_what_was_aired(
        tmp_path: Path, clock: FakeClock) -> None:
    pcm = ramp(1.0)
    task = asyncio.create_task(play(FileSink(tmp_path, clock), "cut", iter_pcm(pcm)))
    await clock.advance(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    fmt, frames = read_wav(tmp_path / "cut.wav")
    assert fmt == (PCM_CHANNELS, PCM_WIDTH, PCM_RATE)
    assert 0 < len(frames) < len(pcm)
    assert frames == pcm[:len(frames)]


async def test_close_is_idempotent_and_write_after_close_fails(
        tmp_path: Path, clock: FakeClock) -> None:
    output = await FileSink(tmp_path, clock).open("twice")
    await output.write(silence(0.1))
    await output.close()
    await output.close()

    with pytest.raises(AudioError, match="closed"):
        await output.write(silence(0.1))
    assert read_wav(tmp_path / "twice.wav")[1] == silence(0.1)


@pytest.mark.parametrize(("item_name", "file_name"), [
    ("../../etc/passwd", "_.._etc_passwd.wav"),
    ("..", "item.wav"),
    ("20250301T110000Z_tin tức/sáng", "20250301T110000Z_tin_t_c_s_ng.wav"),
])
async def test_item_names_cannot_leave_the_folder(
        tmp_path: Path, clock: FakeClock, item_name: str, file_name: str) -> None:
    folder = tmp_path / "recordings"
    output = await FileSink(folder, clock).open(item_name)
    await output.close()

    assert [p.name for p in folder.iterdir()] == [file_name]
    assert list(tmp_path.iterdir()) == [folder]


async def test_null_sink_paces_and_counts(clock: FakeClock) -> None:
    output = await NullSink(clock).open("anything")
    task = asyncio.create_task(output.write(silence(1.0)))
    await settle()

    assert not task.done()
    assert output.frames_written == PCM_RATE
    assert output.first_sample_mono == 1000.0

    await clock.advance(0.9)
    await task
    await output.close()


async def test_null_sink_stays_within_the_lead(clock: FakeClock) -> None:
    output = await NullSink(clock, lead_s=0.2).open("anything")

    async def write_all() -> None:
        for chunk in chunks_of(silence(2.0)):
            await output.write(chunk)

    task = asyncio.create_task(write_all())
    await clock.advance(0.5)
    ahead_s = output.frames_written / PCM_RATE - 0.5

    assert 0.0 < ahead_s <= 0.2 + 0.1  # the lead, plus the chunk that crossed it
    await clock.advance(2.0)
    await task
    assert output.frames_written == 2 * PCM_RATE


def test_apply_volume_halves_and_clips() -> None:
    pcm = array("h", [10000, -10000, 3, 20000, -20000]).tobytes()

    assert samples(apply_volume(pcm, 0.5)) == [5000, -5000, 1, 10000, -10000]
    assert samples(apply_volume(pcm, 2.0)) == [20000, -20000, 6, 32767, -32768]
    assert samples(apply_volume(pcm, 0.0)) == [0, 0, 0, 0, 0]
    assert apply_volume(pcm, 1.0) is pcm


@pytest.mark.parametrize("volume", [-0.1, 2.1])
def test_apply_volume_rejects_out_of_range(volume: float) -> None:
    with pytest.raises(ValueError, match="volume"):
        apply_volume(silence(0.1), volume)


async def test_play_applies_volume(tmp_path: Path, clock: FakeClock) -> None:
    pcm = array("h", [1000, -1000] * CHUNK_FRAMES).tobytes()
    await play(FileSink(tmp_path, clock), "quiet", iter_pcm(pcm), volume=0.5)

    assert set(samples(read_wav(tmp_path / "quiet.wav")[1])) == {500, -500}


def test_chime_is_a_cached_second_of_sound() -> None:
    ding_dong = chime()
    levels = samples(ding_dong)

    assert 0.9 * PCM_RATE <= len(levels) <= 1.2 * PCM_RATE
    assert max(levels) > 0.5 * 0.8 * 32767
    assert min(levels) < -0.5 * 0.8 * 32767
    assert max(abs(s) for s in levels[PCM_RATE // 2 - 100:PCM_RATE // 2]) < 0.2 * 32767  # decayed
    assert chime() is ding_dong


def test_silence_and_chunks() -> None:
    pcm = ramp(0.25)
    chunks = list(chunks_of(pcm, chunk_s=0.1))

    assert len(silence(0.5)) == PCM_RATE * PCM_WIDTH // 2
    assert set(silence(0.5)) == {0}
    assert [len(c) // PCM_WIDTH for c in chunks] == [CHUNK_FRAMES, CHUNK_FRAMES, 1102]
    assert b"".join(chunks) == pcm


def test_chunks_of_rejects_half_frames() -> None:
    with pytest.raises(ValueError, match="frames"):
        list(chunks_of(b"\x00\x00\x00"))


def test_make_sink_variants(tmp_path: Path, clock: FakeClock) -> None:
    null = make_sink("null", clock, data_dir=tmp_path)
    relative = make_sink("file:recordings", clock, data_dir=tmp_path)
    absolute = make_sink("file:/var/lib/radio", clock, data_dir=tmp_path)
    alsa = make_sink("plughw:1,0", clock, data_dir=tmp_path)

    assert isinstance(null, NullSink)
    assert isinstance(relative, FileSink)
    assert relative.directory == tmp_path / "recordings"
    assert isinstance(absolute, FileSink)
    assert absolute.directory == Path("/var/lib/radio")
    assert isinstance(alsa, AlsaSink)
    assert alsa.name == "plughw:1,0"
    assert alsa.command()[-2:] == ["-D", "plughw:1,0"]


@pytest.mark.parametrize("output", ["file:", "file:  ", ""])
def test_make_sink_rejects_missing_names(tmp_path: Path, clock: FakeClock, output: str) -> None:
    with pytest.raises(ValueError, match="output"):
        make_sink(output, clock, data_dir=tmp_path)


@pytest.mark.integration
async def test_alsa_sink_reports_aplay_failure() -> None:
    require_program("aplay")
    # A PCM name no ALSA configuration defines: aplay fails to open it on any machine, with or
    # without a sound card (on this gateway's CI, "default" fails the same way: no card).
    sink = AlsaSink("communectl_no_such_pcm", SystemClock())

    with pytest.raises(AudioError, match=r"(?s)exited with 1: .*audio open error"):
        await play(sink, "item", iter_pcm(silence(0.5)))


@pytest.mark.integration
async def test_alsa_sink_plays_on_the_null_pcm() -> None:
    require_program("aplay")
    sink = AlsaSink("null", SystemClock())  # alsa-lib's stock "null" PCM discards the audio
    reported: list[float] = []

    seconds = await play(sink, "item", iter_pcm(chime()), on_first_sample=reported.append)

    assert seconds == len(chime()) / PCM_WIDTH / PCM_RATE
    assert len(reported) == 1


@pytest.mark.integration
async def test_preempted_alsa_item_stops_its_player_at_once(tmp_path: Path) -> None:
    # A stand-in for aplay that never reads: the pipe fills and play() blocks, like on a card.
    pid_file = tmp_path / "player.pid"
    player = tmp_path / "stuck-player"
    player.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 30\n")
    player.chmod(0o755)
    sink = AlsaSink("default", SystemClock(), program=str(player))
    task = asyncio.create_task(play(sink, "item", iter_pcm(silence(5.0))))
    await wait_for_file(pid_file)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not Path(f"/proc/{pid_file.read_text().strip()}").exists()


async def wait_for_file(path: Path) -> None:
    async with asyncio.timeout(5):
        while not path.exists() or not path.read_text().strip():
            await asyncio.sleep(0.01)


async def test_alsa_sink_without_aplay_is_an_audio_error() -> None:
    sink = AlsaSink("default", SystemClock(), program="communectl-no-such-aplay")

    with pytest.raises(AudioError, match="cannot start"):
        await sink.open("item")
