"""Speech from the real espeak-ng: house-format WAV, a plausible length and level, and a cache
that answers without running espeak-ng again."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from pathlib import Path

import pytest

from drivers.errors import AudioError
from drivers.tts import SpeechSynth
from tests.conftest import require_program

pytestmark = pytest.mark.integration

ANNOUNCEMENT = ("Thông báo: UBND xã Thiệu Long sẽ tổ chức họp dân lúc 18:30 ngày 20/11/2026 "
                "tại nhà văn hoá thôn Minh Đức.")


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_program("espeak-ng")


def level(path: Path) -> tuple[float, float, tuple[int, int, int]]:
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        samples = array.array("h", wav.readframes(wav.getnframes()))
    seconds = len(samples) / shape[2]
    return seconds, math.sqrt(sum(s * s for s in samples) / len(samples)), shape


async def test_an_announcement_is_spoken_in_the_house_format(tmp_path: Path) -> None:
    synth = SpeechSynth(tmp_path / "cache")
    seconds, rms, shape = level(await synth.synthesise(ANNOUNCEMENT))
    assert shape == (1, 2, 22050)
    assert 3 < seconds < 20
    assert rms > 500


async def test_the_cache_answers_without_espeak(tmp_path: Path) -> None:
    path = await SpeechSynth(tmp_path / "cache").synthesise(ANNOUNCEMENT)
    again = SpeechSynth(tmp_path / "cache")
    again.program = "/nonexistent/espeak-ng"  # would fail if it ran
    again._version = SpeechSynth(tmp_path / "x")._read_version()  # same espeak-ng version
    assert await again.synthesise(ANNOUNCEMENT) == path
    assert again.synthesised == 0


async def test_concurrent_requests_for_one_text_leave_one_whole_file(tmp_path: Path) -> None:
    synth = SpeechSynth(tmp_path / "cache")
    paths = await asyncio.gather(*(synth.synthesise(ANNOUNCEMENT) for _ in range(4)))
    assert len(set(paths)) == 1
    assert level(paths[0])[1] > 500
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [paths[0].name]


async def test_different_texts_and_voices_are_different_files(tmp_path: Path) -> None:
    synth = SpeechSynth(tmp_path / "cache")
    first = await synth.synthesise("Một hai ba.")
    second = await synth.synthesise("Bốn năm sáu.")
    assert first != second and synth.cache_path("Một hai ba.", voice="en") != first


@pytest.mark.parametrize(("text", "program", "message"), [
    ("   ", "espeak-ng", "nothing to say"),
    ("Xin chào.", "/nonexistent/espeak-ng", "not installed"),
])
async def test_failures_are_audio_errors(tmp_path: Path, text: str, program: str,
                                         message: str) -> None:
    with pytest.raises(AudioError, match=message):
        await SpeechSynth(tmp_path / "cache", program=program).synthesise(text)


async def test_an_unknown_voice_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="espeak-ng failed"):
        await SpeechSynth(tmp_path / "cache", voice="xx-no-such").synthesise("Xin chào.")
