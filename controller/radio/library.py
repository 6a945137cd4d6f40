"""The audio library: files uploaded for broadcasts (docs/api.md: POST /api/v1/audio).

An upload is probed with ffprobe before it is kept: a file that only pretends to be audio (a
text file named .mp3, an image) is refused. A stored file is named by its id and the extension
of the format ffprobe found, never by the name the uploader gave, so no name can reach outside
the library folder; the uploader's name is kept for display only.

Playback uses a decoded copy in the house PCM format, made once and cached, so that an airing
starts on time without decoding an MP3 first.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.platform.store import Store
from drivers import media

AUDIO = "audio"
# ffprobe's format names -> the extension the file is kept under.
EXTENSIONS = {"mp3": "mp3", "wav": "wav", "ogg": "ogg", "flac": "flac", "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
              "aac": "aac", "matroska,webm": "webm", "aiff": "aiff", "amr": "amr"}
MAX_NAME_CHARS = 120


class AudioLibrary:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self._store = store
        self.folder = data_dir / "audio"
        self.decoded_folder = data_dir / "cache" / "decoded"

    def all(self) -> list[dict[str, Any]]:
        return sorted(self._store.all(AUDIO), key=lambda d: d["uploaded_at"])

    def get(self, audio_id: str) -> dict[str, Any] | None:
        return self._store.get(AUDIO, audio_id)

    def path_of(self, doc: dict[str, Any]) -> Path:
        return self.folder / doc["file"]

    async def add(self, upload: Path, *, name: str, uploaded_by: str,
                  now: datetime) -> dict[str, Any]:
        """Probe ``upload`` (raises NotAudio), then move it into the library and record it."""
        info = await media.probe(upload)
        display_name = clean_name(name) or "audio"
        audio_id = f"{_slug(display_name)}-{secrets.token_hex(3)}"
        extension = EXTENSIONS.get(info.format, "audio")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{audio_id}.{extension}"
        shutil.move(upload, target)
        _fsync_dir(self.folder)
        doc = {"id": audio_id, "name": display_name, "file": target.name,
               "format": info.format.split(",")[0], "codec": info.codec,
               "duration_s": round(info.duration_s, 3), "sample_rate": info.sample_rate,
               "channels": info.channels, "size_bytes": target.stat().st_size,
               "uploaded_by": uploaded_by, "uploaded_at": now.isoformat()}
        self._store.put(AUDIO, doc)
        return doc

    def remove(self, audio_id: str) -> dict[str, Any] | None:
        doc = self._store.get(AUDIO, audio_id)
        if doc is None:
            return None
        self._store.delete(AUDIO, audio_id)
        for path in (self.path_of(doc), self.decoded_folder / f"{audio_id}.wav"):
            path.unlink(missing_ok=True)
        return doc

    async def decoded(self, audio_id: str) -> Path:
        """The house-format WAV of a library file, decoded once."""
        doc = self._store.get(AUDIO, audio_id)
        if doc is None:
            raise KeyError(audio_id)
        target = self.decoded_folder / f"{audio_id}.wav"
        if not target.exists():
            self.decoded_folder.mkdir(parents=True, exist_ok=True)
            await media.decode_to_wav(self.path_of(doc), target)
        return target


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


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
