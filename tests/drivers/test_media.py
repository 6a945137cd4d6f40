"""ffprobe and ffmpeg on real files: an MP3 made by ffmpeg is audio; text, an image or nothing
only pretending to be one is not; decoding gives the house format with the gain asked for."""

from __future__ import annotations

import array
import math
import subprocess
from pathlib import Path

import pytest

from drivers.errors import NotAudio
from drivers.media import decode_to_wav, probe, read_pcm, wav_duration_s
from tests.conftest import require_program

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ffmpeg = require_program("ffmpeg")
    path = tmp_path_factory.mktemp("media") / "tone.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-codec:a", "libmp3lame", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ffmpeg = require_program("ffmpeg")
    path = tmp_path_factory.mktemp("media") / "red.mp3"  # a picture named like a song
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=16x16",
                    "-frames:v", "1", "-f", "image2", "-c:v", "png", str(path)], check=True)
    return path


def rms(pcm: bytes) -> float:
    samples = array.array("h", pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


async def test_an_mp3_is_audio(mp3: Path) -> None:
    require_program("ffprobe")
    info = await probe(mp3)
    assert (info.format, info.codec, info.channels) == ("mp3", "mp3", 1)
    assert abs(info.duration_s - 2.0) < 0.1


@pytest.mark.parametrize("content", [b"", b"ID3 nothing but text\n" * 100, b"<html></html>"])
async def test_text_pretending_to_be_an_mp3_is_not_audio(tmp_path: Path, content: bytes) -> None:
    require_program("ffprobe")
    fake = tmp_path / "fake.mp3"
    fake.write_bytes(content)
    with pytest.raises(NotAudio):
        await probe(fake)


async def test_a_picture_is_not_audio(png: Path) -> None:
    require_program("ffprobe")
    with pytest.raises(NotAudio):
        await probe(png)


async def test_decoding_gives_the_house_format_and_the_gain(mp3: Path, tmp_path: Path) -> None:
    full = await decode_to_wav(mp3, tmp_path / "full.wav")
    quieter = await decode_to_wav(mp3, tmp_path / "quieter.wav", gain_db=-6.0)
    assert abs(wav_duration_s(full) - 2.0) < 0.1
    ratio = rms(read_pcm(quieter)) / rms(read_pcm(full))
    assert 0.45 < ratio < 0.55  # -6 dB is half the amplitude
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.wav", "quieter.wav"]
