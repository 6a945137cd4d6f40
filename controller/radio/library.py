"""The audio library: files uploaded for broadcasts (docs/api.md: POST /api/v1/audio).

An upload is probed with ffprobe before it is kept: a file that only pretends to be audio (a
text file named .mp3, an image) is refused. A stored file is named by its id and the extension
of the format ffprobe found, never by the name the uploader gave, so no name can reach outside
the library folder; the uploader's name is kept for display only.

Playback uses a decoded copy in the house PCM format, made once and cached, so that an airing
starts on time without decoding an MP3 first.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import unicodedata
from datetime import datetime
from pathlib import Path

from controller.platform.store import Store
from controller.radio.records import AudioFile, RadioBook
from drivers import media
from drivers.errors import AudioError, UnknownDuration

# ffprobe's format names -> the extension the file is kept under.
EXTENSIONS = {"mp3": "mp3", "wav": "wav", "ogg": "ogg", "flac": "flac",
              "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "aac": "aac", "matroska,webm": "webm",
              "aiff": "aiff", "amr": "amr"}
MAX_NAME_CHARS = 120


class AudioLibrary:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self._book = RadioBook(store)
        self.folder = data_dir / "audio"
        self.decoded_folder = data_dir / "cache" / "decoded"

    def all(self) -> list[AudioFile]:
        """Oldest first."""
        return self._book.audio_files()

    def get(self, audio_id: str) -> AudioFile | None:
        return self._book.audio_file(audio_id)

    def path_of(self, audio: AudioFile) -> Path:
        return self.folder / audio.file

    async def add(self, upload: Path, *, name: str, uploaded_by: str,
                  now: datetime) -> AudioFile:
        """Probe ``upload`` (raises NotAudio), then move it into the library and record it.

        A recording made in the page (MediaRecorder's WebM/Opus, streamed without a duration)
        is decoded to the house-format WAV, which is what is kept: its length is then known, as
        the plan and the overlap checks need, and it airs without decoding."""
        try:
            info = await media.probe(upload)
        except UnknownDuration:
            upload = await _decoded_recording(upload)
            info = await media.probe(upload)
        display_name = clean_name(name) or "audio"
        audio_id = f"{_slug(display_name)}-{secrets.token_hex(3)}"
        extension = EXTENSIONS.get(info.format, "audio")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{audio_id}.{extension}"
        # Moving and storing touch the SD card: off the event loop.
        await asyncio.to_thread(_move, upload, target)
        audio = AudioFile(
            id=audio_id, name=display_name, file=target.name,
            format=info.format.split(",")[0], codec=info.codec,
            duration_s=round(info.duration_s, 3), sample_rate=info.sample_rate,
            channels=info.channels, size_bytes=target.stat().st_size, uploaded_by=uploaded_by,
            uploaded_at=now)
        await asyncio.to_thread(self._book.put_audio_file, audio)
        return audio

    def remove(self, audio_id: str) -> AudioFile | None:
        """Forget a file and delete it (and its decoded copy); None if there was none."""
        audio = self._book.audio_file(audio_id)
        if audio is None:
            return None
        self._book.delete_audio_file(audio_id)
        for path in (self.path_of(audio), self.decoded_folder / f"{audio_id}.wav"):
            path.unlink(missing_ok=True)
        return audio

    async def decoded(self, audio_id: str) -> Path:
        """The house-format WAV of a library file, decoded once."""
        audio = self._book.audio_file(audio_id)
        if audio is None:
            raise KeyError(audio_id)
        target = self.decoded_folder / f"{audio_id}.wav"
        if not target.exists():
            self.decoded_folder.mkdir(parents=True, exist_ok=True)
            await media.decode_to_wav(self.path_of(audio), target)
        return target


async def _decoded_recording(upload: Path) -> Path:
    """``upload`` decoded to a WAV beside it (the original removed); NotAudio if ffmpeg cannot
    read it through either."""
    decoded = upload.with_name(f"{upload.name}.wav")
    try:
        await media.decode_to_wav(upload, decoded)
    except AudioError as exc:
        raise UnknownDuration(f"the audio stream has no duration and does not decode: {exc}") \
            from exc
    upload.unlink(missing_ok=True)
    return decoded


def clean_name(name: str) -> str:
    """A display name: the last path component, no control characters, bounded."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:MAX_NAME_CHARS]


def _slug(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem.replace("đ", "d").replace("Đ", "D"))
    ascii_stem = ascii_stem.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem).strip("-")[:40]
    return slug or "audio"


def _move(upload: Path, target: Path) -> None:
    shutil.move(upload, target)
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
