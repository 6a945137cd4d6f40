"""What a broadcast plays (SOURCE in docs/api.md), as pydantic models shared by the config's
``[[broadcast_programs]]`` and the API.

    {"type": "tts", "text": "...", "voice"?}
    {"type": "audio", "audio_id": "..."}
    {"type": "stream", "url": "...", "duration_s": N, "fallback_audio_id"?}
    {"type": "playlist", "items": [SOURCE, ...]}

A playlist holds plain sources, not other playlists: one level is what a radio schedule needs,
and it keeps a programme's length computable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A minute of speech is about 150 Vietnamese words, 800 characters; an announcement of 4,000
# characters is five minutes of reading, longer than any announcement a commune airs.
MAX_TTS_CHARS = 4000
MAX_STREAM_S = 4 * 3600
MAX_PLAYLIST_ITEMS = 50
STREAM_SCHEMES = ("http://", "https://", "rtsp://", "rtmp://", "icecast://")


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TtsSource(_Source):
    type: Literal["tts"]
    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS)
    voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_+-]{1,32}$")

    @field_validator("text")
    @classmethod
    def _something_to_say(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        return value


class AudioSource(_Source):
    type: Literal["audio"]
    audio_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")


class StreamSource(_Source):
    type: Literal["stream"]
    url: str = Field(max_length=2048)
    duration_s: float = Field(gt=0, le=MAX_STREAM_S)
    fallback_audio_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")

    @field_validator("url")
    @classmethod
    def _stream_url(cls, value: str) -> str:
        if not value.startswith(STREAM_SCHEMES):
            raise ValueError(f"expected a stream URL starting with one of {STREAM_SCHEMES}")
        return value


PlainSource = Annotated[TtsSource | AudioSource | StreamSource, Field(discriminator="type")]


class PlaylistSource(_Source):
    type: Literal["playlist"]
    items: list[PlainSource] = Field(min_length=1, max_length=MAX_PLAYLIST_ITEMS)


Source = Annotated[TtsSource | AudioSource | StreamSource | PlaylistSource,
                   Field(discriminator="type")]


def audio_ids_of(source: Mapping[str, object]) -> set[str]:
    """Every audio file a stored source needs (to refuse deleting one in use)."""
    kind = source.get("type")
    audio_id = source.get("audio_id" if kind == "audio" else "fallback_audio_id")
    if kind in ("audio", "stream") and isinstance(audio_id, str) and audio_id:
        return {audio_id}
    items = source.get("items")
    if kind == "playlist" and isinstance(items, list):
        return set().union(*(audio_ids_of(item) for item in items if isinstance(item, Mapping)))
    return set()
