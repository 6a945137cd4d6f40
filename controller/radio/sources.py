"""From a SOURCE (docs/api.md) to house PCM: speech synthesised, library files decoded, streams
relayed, and the test tone a technician plays in one zone (``{"type": "tone", "frequency_hz",
"seconds"}``, made by the radio service only, never sent by a caller).

``prepare`` does the slow part (speech synthesis, decoding) ahead of an item's time, so that the
first sample can go out on the scheduled second; ``pcm_chunks`` then reads the prepared parts
from disk in small chunks (a half-hour programme is never held in memory) and relays streams
live, falling back to their local file when the station fails.
"""

from __future__ import annotations

import asyncio
import os
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.radio.library import AudioLibrary
from drivers import audio, stream
from drivers.errors import AudioError
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH
from drivers.tts import SpeechSynth

CHUNK_S = 0.1
# A guess of speech length before it is synthesised (for conflicts and the plan): words at
# the synthesiser's rate (broadcast.tts_words_per_minute).


@dataclass(frozen=True)
class Part:
    wav: Path | None = None  # a prepared file in the house format
    url: str | None = None  # a stream to relay live
    duration_s: float = 0.0
    fallback_wav: Path | None = None


class SourcePlayer:
    def __init__(self, *, library: AudioLibrary, synth: SpeechSynth,
                 stream_connect_timeout_s: float = 5.0, tone_dir: Path | None = None) -> None:
        self._library = library
        self._synth = synth
        self._connect_timeout_s = stream_connect_timeout_s
        # Test tones are made once per frequency and length, in the media cache beside the
        # library's decoded copies.
        self.tone_dir = tone_dir or library.decoded_folder.parent / "tones"

    async def prepare(self, source: dict[str, Any]) -> list[Part]:
        """Every part of ``source`` ready to play; AudioError (or KeyError for an audio id
        that is gone) when one cannot be."""
        items = source["items"] if source["type"] == "playlist" else [source]
        parts = []
        for item in items:
            if item["type"] == "tts":
                path = await self._synth.synthesise(item["text"], voice=item.get("voice"))
                parts.append(Part(wav=path, duration_s=wav_seconds(path)))
            elif item["type"] == "audio":
                path = await self._library.decoded(item["audio_id"])
                parts.append(Part(wav=path, duration_s=wav_seconds(path)))
            elif item["type"] == "tone":
                path = await self.tone_wav(float(item["frequency_hz"]), float(item["seconds"]))
                parts.append(Part(wav=path, duration_s=wav_seconds(path)))
            else:
                fallback = item.get("fallback_audio_id")
                parts.append(Part(url=item["url"], duration_s=float(item["duration_s"]),
                                  fallback_wav=await self._library.decoded(fallback)
                                  if fallback else None))
        return parts

    async def pcm_chunks(self, parts: list[Part], *, chime: bool,
                         on_fallback: Callable[[str], None] | None = None
                         ) -> AsyncIterator[bytes]:
        if chime:
            for chunk in audio.chunks_of(audio.chime() + audio.silence(0.3), chunk_s=CHUNK_S):
                yield chunk
        for part in parts:
            if part.wav is not None:
                async for chunk in _wav_chunks(part.wav):
                    yield chunk
            else:
                assert part.url is not None
                fallback = _read_all(part.fallback_wav) if part.fallback_wav else None
                async for chunk in stream.relay_with_fallback(
                        part.url, duration_s=part.duration_s, fallback_pcm=fallback,
                        on_fallback=on_fallback, connect_timeout_s=self._connect_timeout_s,
                        chunk_s=CHUNK_S):
                    yield chunk

    def estimate_s(self, source: dict[str, Any], *, chime: bool = False) -> float:
        """How long ``source`` will play, without preparing it (for conflict checks)."""
        items = source["items"] if source["type"] == "playlist" else [source]
        total = 1.3 if chime else 0.0
        for item in items:
            if item["type"] == "tts":
                cached = self._synth.cache_path(item["text"], voice=item.get("voice"))
                total += wav_seconds(cached) if cached.exists() else \
                    len(item["text"].split()) / (self._synth.words_per_minute / 60)
            elif item["type"] == "audio":
                audio = self._library.get(item["audio_id"])
                total += audio.duration_s if audio else 0.0
            elif item["type"] == "tone":
                total += float(item["seconds"])
            else:
                total += float(item["duration_s"])
        return total

    async def tone_wav(self, frequency_hz: float, seconds: float) -> Path:
        """A house-format WAV of a sine tone, written the first time it is asked for (off the
        event loop) and kept; AudioError when it cannot be written."""
        path = self.tone_dir / f"tone-{frequency_hz:g}hz-{seconds:g}s.wav"
        if not path.exists():
            try:
                await asyncio.to_thread(_write_tone, path, frequency_hz, seconds)
            except OSError as exc:
                raise AudioError(f"cannot write the test tone {path.name}: {exc}") from exc
        return path


def _write_tone(path: Path, frequency_hz: float, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(PCM_CHANNELS)
        wav.setsampwidth(PCM_WIDTH)
        wav.setframerate(PCM_RATE)
        wav.writeframes(audio.tone(frequency_hz, seconds))
    os.replace(partial, path)  # never a half-written tone under the cached name


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def _wav_chunks(path: Path) -> AsyncIterator[bytes]:
    frames_per_chunk = int(PCM_RATE * CHUNK_S)
    try:
        with wave.open(str(path), "rb") as wav:
            while True:
                chunk = wav.readframes(frames_per_chunk)
                if not chunk:
                    return
                yield chunk
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioError(f"cannot read {path.name}: {exc}") from exc


def _read_all(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())
