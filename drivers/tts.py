"""Offline Vietnamese speech with espeak-ng (LIBRARIES.md: the only offline choice that needs
no model download), after ``vi_text`` has rewritten times, dates, numbers, units and
abbreviations as words.

Synthesised audio is cached by what determines it (the normalised text, the voice, the speed
and espeak-ng's version): a programme read every morning is synthesised once. The text goes to
espeak-ng on stdin, never on its command line, where a text starting with "-" would be an
option.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import wave
from pathlib import Path

from drivers.errors import AudioError
from drivers.media import decode_to_wav
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH
from drivers.vi_text import normalise_vietnamese

SYNTH_TIMEOUT_S = 60.0


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
        if shutil.which(self.program) is None:
            raise AudioError(f"{self.program} is not installed")
        try:
            process = await asyncio.create_subprocess_exec(
                self.program, "-v", voice, "-s", str(self.words_per_minute), "-w", str(output),
                "--stdin", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise AudioError(f"cannot start {self.program}: {exc}") from exc
        try:
            _, err = await asyncio.wait_for(process.communicate(text.encode("utf-8")),
                                            SYNTH_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AudioError(f"{self.program} took longer than {SYNTH_TIMEOUT_S:.0f} s") from None
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
        message = err.decode(errors="replace").strip()
        if process.returncode != 0 or not output.exists() or output.stat().st_size <= 44:
            raise AudioError(f"{self.program} failed (voice {voice!r}): "
                             f"{message or f'exit status {process.returncode}'}")

    def _read_version(self) -> str:
        # Part of the cache key: a new espeak-ng reads differently. Read once, synchronously
        # (a few ms), the first time a key is needed.
        import subprocess

        try:
            found = subprocess.run([self.program, "--version"], capture_output=True, text=True,
                                   timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
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
