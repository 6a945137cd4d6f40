"""The audio library with real files: a recording made in the page (a browser's MediaRecorder
writes WebM/Opus as it records, so its container gives no duration) is decoded and kept as the
house-format WAV; a file that is not audio stays refused."""

from __future__ import annotations

import subprocess
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.platform.store import Store
from controller.radio.library import AudioLibrary
from drivers.errors import NotAudio
from drivers.pcm import PCM_CHANNELS, PCM_RATE
from tests.conftest import require_program

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def streamed_webm(target: Path, seconds: float) -> Path:
    """Opus in WebM written to a pipe, as MediaRecorder does: no duration, no cues."""
    ffmpeg = require_program("ffmpeg")
    with target.open("wb") as out:
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i",
                        f"sine=frequency=440:duration={seconds}", "-c:a", "libopus",
                        "-f", "webm", "pipe:1"], stdout=out, check=True)
    return target


async def test_a_recording_without_duration_is_kept_as_house_wav(tmp_path: Path) -> None:
    ffprobe = require_program("ffprobe")
    upload = streamed_webm(tmp_path / "upload.webm", 2.5)
    probed = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration",
                             "-of", "csv=p=0", str(upload)], capture_output=True, text=True)
    assert probed.stdout.strip() in ("", "N/A"), "the sample must lack a duration, as a " \
        f"browser's recording does: {probed.stdout!r}"
    library = AudioLibrary(Store(tmp_path / "data"), tmp_path / "data")

    audio = await library.add(upload, name="ghi âm.webm", uploaded_by="lan", now=NOW)

    assert (audio.format, audio.name) == ("wav", "ghi âm.webm")
    assert abs(audio.duration_s - 2.5) < 0.1, audio.duration_s
    kept = library.path_of(audio)
    assert kept.suffix == ".wav" and kept.exists() and not upload.exists()
    with wave.open(str(kept)) as sound:
        assert (sound.getframerate(), sound.getnchannels()) == (PCM_RATE, PCM_CHANNELS)
    assert library.get(audio.id) == audio
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []


async def test_a_file_that_is_not_audio_is_still_refused(tmp_path: Path) -> None:
    require_program("ffprobe")
    upload = tmp_path / "upload.webm"
    upload.write_bytes(b"\x1a\x45\xdf\xa3 not really a webm file" * 20)
    library = AudioLibrary(Store(tmp_path / "data"), tmp_path / "data")
    with pytest.raises(NotAudio):
        await library.add(upload, name="x.webm", uploaded_by="lan", now=NOW)
    assert library.all() == []
