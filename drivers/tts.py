"""Offline Vietnamese speech with espeak-ng (docs/libraries.md: the only offline choice that
needs no model download), after ``vi_text`` has rewritten times, dates, numbers, units and
abbreviations as words.

Synthesised audio is cached by what determines it (the normalised text, the voice, the speed
and espeak-ng's version): a programme read every morning is synthesised once. The text goes to
espeak-ng on stdin, never on its command line, where a text starting with "-" would be an
option.
"""

from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path

from drivers.errors import AudioError
from drivers.media import decode_to_wav, run_tool, run_tool_blocking
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH
from drivers.vi_text import normalise_vietnamese

SYNTH_TIMEOUT_S = 60.0
VERSION_TIMEOUT_S = 10.0


class SpeechSynth:
    def __init__(self, cache_dir: Path, *, voice: str = "vi", program: str = "espeak-ng",
                 words_per_minute: int = 150, southern: bool = False) -> None:
        self.cache_dir = cache_dir
        self.voice = voice
        self.program = program
        self.words_per_minute = words_per_minute
        self.southern = southern
        self._version: str | None = None
        self.synthesised = 0  # how many times espeak-ng actually ran

    def cache_path(self, text: str, *, voice: str | None = None) -> Path:
        spoken = normalise_vietnamese(text, southern=self.southern)
        key = "\0".join((spoken, voice or self.voice, str(self.words_per_minute),
                         self._version or self._read_version()))
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"

    async def synthesise(self, text: str, *, voice: str | None = None) -> Path:
        """A house-format WAV of ``text`` read aloud; from the cache when it was read before."""
        spoken = normalise_vietnamese(text, southern=self.southern).strip()
        if not spoken:
            raise AudioError("nothing to say: the text is empty")
        target = self.cache_path(text, voice=voice)
        if target.exists():
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.stem}.{os.getpid()}.{id(target)}.wav")
        try:
            await self._espeak(spoken, voice or self.voice, partial)
            if not _is_house_format(partial):
                await decode_to_wav(partial, partial.with_suffix(".pcm.wav"))
                os.replace(partial.with_suffix(".pcm.wav"), partial)
            with partial.open("rb") as file:
                os.fsync(file.fileno())
            os.replace(partial, target)  # atomic: a concurrent reader sees all or nothing
        finally:
            partial.unlink(missing_ok=True)
        self.synthesised += 1
        return target

    async def _espeak(self, text: str, voice: str, output: Path) -> None:
        _, err, code = await run_tool(
            [self.program, "-v", voice, "-s", str(self.words_per_minute), "-w", str(output),
             "--stdin"], timeout_s=SYNTH_TIMEOUT_S, stdin=text.encode("utf-8"))
        message = err.decode(errors="replace").strip()
        if code != 0 or not output.exists() or output.stat().st_size <= 44:
            raise AudioError(f"{self.program} failed (voice {voice!r}): "
                             f"{message or f'exit status {code}'}")

    def _read_version(self) -> str:
        # Part of the cache key: a new espeak-ng reads differently. Read once, synchronously
        # (a few ms), the first time a key is needed.
        try:
            out, _, _ = run_tool_blocking([self.program, "--version"],
                                          timeout_s=VERSION_TIMEOUT_S)
            found = out.decode(errors="replace").strip()
        except AudioError:
            found = "unknown"
        self._version = found
        return found


def _is_house_format(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as wav:
            return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == \
                (PCM_CHANNELS, PCM_WIDTH, PCM_RATE)
    except (OSError, wave.Error, EOFError):
        return False
