"""Audio files through ffprobe and ffmpeg: what a file holds, and its decoding to house PCM.

An upload is trusted only after ffprobe finds an audio stream in it: a text file named
``.mp3`` or a picture is ``NotAudio``. Decoding writes a house-format WAV (``drivers.pcm``)
atomically (temporary file, fsync, rename), so a cache never holds half a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import AudioError, NotAudio, UnknownDuration
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH

PROBE_TIMEOUT_S = 20.0
DECODE_TIMEOUT_S = 300.0
# ffprobe names these formats for still pictures; an "audio stream" inside one is not audio.
IMAGE_FORMATS = {"png_pipe", "image2", "jpeg_pipe", "gif", "bmp_pipe", "webp_pipe", "svg_pipe",
                 "tiff_pipe"}


@dataclass(frozen=True)
class MediaInfo:
    format: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int


async def probe(path: Path, *, program: str = "ffprobe") -> MediaInfo:
    """What ``path`` holds; NotAudio when it has no playable audio stream."""
    out, err, code = await run_tool([program, "-v", "error", "-print_format", "json",
                                     "-show_format", "-show_streams", str(path)],
                                    timeout_s=PROBE_TIMEOUT_S)
    if code != 0:
        raise NotAudio(f"ffprobe cannot read it: {_tail(err) or f'exit status {code}'}")
    try:
        found = json.loads(out or b"{}")
    except ValueError as exc:
        raise AudioError(f"ffprobe answered something that is not JSON: {exc}") from exc
    container = found.get("format", {})
    streams = [s for s in found.get("streams", []) if s.get("codec_type") == "audio"]
    name = str(container.get("format_name", ""))
    if not streams or name in IMAGE_FORMATS:
        raise NotAudio(f"no audio stream (ffprobe sees {name or 'nothing it knows'})")
    stream = streams[0]
    duration = _number(container.get("duration")) or _number(stream.get("duration"))
    if duration <= 0:
        raise UnknownDuration("the audio stream has no duration")
    return MediaInfo(format=name, codec=str(stream.get("codec_name", "")),
                     duration_s=duration, sample_rate=int(_number(stream.get("sample_rate"))),
                     channels=int(stream.get("channels") or 0))


async def decode_to_wav(source: Path, target: Path, *, gain_db: float = 0.0,
                        program: str = "ffmpeg") -> Path:
    """Any audio ffmpeg reads -> a house-format WAV at ``target``, written atomically."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    command = [program, "-nostdin", "-v", "error", "-y", "-i", str(source), "-vn",
               "-ac", str(PCM_CHANNELS), "-ar", str(PCM_RATE), "-sample_fmt", "s16"]
    if gain_db:
        command += ["-af", f"volume={gain_db}dB"]
    command += ["-f", "wav", "-bitexact", str(partial)]
    try:
        _, err, code = await run_tool(command, timeout_s=DECODE_TIMEOUT_S)
        if code != 0:
            raise AudioError(f"ffmpeg could not decode {source.name}: {_tail(err)}")
        _fsync(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def wav_duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def read_pcm(path: Path) -> bytes:
    """The frames of a house-format WAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            if shape != (PCM_CHANNELS, PCM_WIDTH, PCM_RATE):
                raise AudioError(f"{path.name} is {shape}, not the house format")
            return wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioError(f"cannot read {path.name}: {exc}") from exc


async def run_tool(command: list[str], *, timeout_s: float,
                   stdin: bytes | None = None) -> tuple[bytes, bytes, int]:
    """Run an audio tool (ffprobe, ffmpeg, espeak-ng; ``drivers.tts``) with ``stdin`` as its
    input: (stdout, stderr, exit status). AudioError when it is not installed, cannot start or
    takes longer than ``timeout_s`` (then it is killed, as it is when the caller is
    cancelled); a non-zero exit status is the caller's to judge."""
    if shutil.which(command[0]) is None:
        raise AudioError(f"{command[0]} is not installed")
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE if stdin is not None else
            asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise AudioError(f"cannot start {command[0]}: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AudioError(f"{command[0]} took longer than {timeout_s:.0f} s") from None
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    return out, err, process.returncode or 0


def run_tool_blocking(command: list[str], *, timeout_s: float) -> tuple[bytes, bytes, int]:
    """``run_tool`` for a caller that cannot await (asking a tool its version takes a few
    milliseconds), with the same AudioErrors."""
    if shutil.which(command[0]) is None:
        raise AudioError(f"{command[0]} is not installed")
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{command[0]} took longer than {timeout_s:.0f} s") from None
    except OSError as exc:
        raise AudioError(f"cannot start {command[0]}: {exc}") from exc
    return done.stdout, done.stderr, done.returncode


def _tail(err: bytes, lines: int = 3) -> str:
    return " | ".join(err.decode(errors="replace").strip().splitlines()[-lines:])


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _fsync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())
