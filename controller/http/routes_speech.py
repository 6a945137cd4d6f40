"""Speech preview for the dashboard: ``POST /speech/preview`` answers the words the radio will
read (drivers/vi_text.py) and a link to them read aloud; ``GET /speech/preview/{key}.wav``
serves that WAV. docs/speech.md describes what the normaliser rewrites.

The WAV comes from the radio's own speech cache (same folder, voice and speed), so a notice
previewed before it airs is already synthesised when its time comes. The key is the cache's
file name, a hash of what determines the audio; the file is served only to a token holder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from fastapi import Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from controller.http.auth import Operator, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import ApiError, not_found
from controller.radio.source_models import MAX_TTS_CHARS
from controller.runtime import Runtime
from drivers.errors import AudioError
from drivers.tts import SpeechSynth
from drivers.vi_text import normalise_vietnamese

router = json_router(tags=["radio"])

_KEY = re.compile(r"^[0-9a-f]{32}$")  # SpeechSynth.cache_path: 32 hex digits of a SHA-256


class SpeechPreviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS,
                      description="the notice as typed, at most as long as a tts source")
    voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_+-]{1,32}$",
                              description="an espeak-ng voice; default the config's tts_voice")

    @field_validator("text")
    @classmethod
    def _something_to_say(cls, value: str) -> str:
        if not normalise_vietnamese(value):
            raise ValueError("the text is empty")
        return value


class SpeechPreviewPublic(BaseModel):
    spoken: str = Field(description="the words espeak-ng reads, on one line")
    audio_url: str = Field(description="GET it (with the token) for the WAV of those words")


def preview_synth(request: Request, runtime: Runtime) -> SpeechSynth:
    """One synth per app, on the radio's cache: espeak-ng's version is read once."""
    synth = getattr(request.app.state, "speech_preview", None)
    if synth is None:
        radio = runtime.config.broadcast
        synth = SpeechSynth(runtime.config.storage.path / "cache" / "tts",
                            voice=radio.tts_voice, words_per_minute=radio.tts_words_per_minute)
        request.app.state.speech_preview = synth
    return cast(SpeechSynth, synth)


@router.post("/speech/preview", summary="The words a text is read as, and the audio",
             responses={503: {"description": "espeak-ng is not installed or failed"}})
async def preview(body: SpeechPreviewCreate, request: Request, runtime: RuntimeDep,
                  caller: Operator) -> SpeechPreviewPublic:
    synth = preview_synth(request, runtime)
    spoken = normalise_vietnamese(body.text, southern=synth.southern)
    try:
        path = await synth.synthesise(body.text, voice=body.voice)
    except AudioError as exc:
        if body.voice is not None and "voice" in str(exc):
            raise ApiError(422, f"espeak-ng cannot read with voice {body.voice!r}",
                           field="voice") from exc
        raise ApiError(503, f"speech is unavailable: {exc}", code="speech_unavailable") from exc
    return SpeechPreviewPublic(spoken=spoken,
                               audio_url=request.app.url_path_for("speech_audio", key=path.stem))


@router.get("/speech/preview/{key}.wav", name="speech_audio", response_class=FileResponse,
            summary="A previewed text read aloud (WAV)")
async def speech_audio(key: str, request: Request, runtime: RuntimeDep,
                       caller: Viewer) -> FileResponse:
    path: Path = preview_synth(request, runtime).cache_dir / f"{key}.wav"
    if not _KEY.match(key) or not path.exists():
        raise not_found("speech preview", key)
    return FileResponse(path, media_type="audio/wav")
