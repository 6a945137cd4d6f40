"""Playback outputs for aired items, behind one small protocol.

A ``Sink`` opens one ``Output`` per aired item; ``play()`` feeds it house PCM (``drivers.pcm``)
chunk by chunk and always closes it, also when the item is preempted (cancelled). Three sinks:

- ``FileSink`` ("file:DIR"): one WAV file per item, a log of what was aired; paced by a ``Pacer``
  so that the file grows in real time and a preempted item leaves the frames it really aired.
- ``NullSink`` ("null"): discards, but paces and counts like the others (demo, benchmarks).
- ``AlsaSink`` (an ALSA device name): pipes into one ``aplay`` process per item; the sound card's
  clock paces it through the pipe's backpressure.

``drivers`` never imports ``controller``: the pacer is anything with ``monotonic()`` and an async
``sleep()``, which the controller's clocks (and its ``FakeClock`` in tests) are.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import math
import re
import struct
import sys
from array import array
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from drivers.errors import AudioError
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH

log = logging.getLogger(__name__)

FRAME_BYTES = PCM_WIDTH * PCM_CHANNELS
DEFAULT_LEAD_S = 0.2
MAX_VOLUME = 2.0
# aplay gets this long (real time) to play out what is left in the pipe after stdin is closed.
APLAY_EXIT_TIMEOUT_S = 1.0
# Cap on the pipe into aplay (Linux F_SETPIPE_SZ; one page is the minimum): about 0.19 s of house
# PCM, so the sound card, not a 64 KiB pipe (1.5 s), decides how far ahead the writer runs.
APLAY_PIPE_BYTES = 8192
STDERR_TAIL_BYTES = 2048
WAV_HEADER_BYTES = 44

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class Pacer(Protocol):
    """The pacing clock: ``SystemClock`` and ``FakeClock`` of controller.platform.clock qualify."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class Output(Protocol):
    """One aired item on a sink."""

    first_sample_mono: float | None  # pacer.monotonic() when the first sample was handed over
    frames_written: int

    async def write(self, pcm: bytes) -> None:
        """Hand over house PCM, paced to real time (at most ``lead_s`` ahead of the clock)."""

    async def close(self) -> None:
        """Finalise (WAV sizes, drain the player); idempotent and safe after cancellation."""


class Sink(Protocol):
    name: str

    async def open(self, item_name: str) -> Output: ...


def _check_frames(pcm: bytes) -> int:
    if len(pcm) % FRAME_BYTES:
        raise ValueError(f"PCM of {len(pcm)} bytes is not whole {FRAME_BYTES}-byte frames")
    return len(pcm) // FRAME_BYTES


class _PacedOutput:
    """Counts frames and keeps the writer within ``lead_s`` of the pacer's clock.

    t0 is the pacer's time at the first write; after N frames, if N / rate runs more than
    ``lead_s`` ahead of the elapsed time, sleep until it is only ``lead_s / 2`` ahead.
    """

    def __init__(self, pacer: Pacer, lead_s: float) -> None:
        self._pacer = pacer
        self._lead_s = lead_s
        self.first_sample_mono: float | None = None
        self.frames_written = 0
        self._closed = False

    async def write(self, pcm: bytes) -> None:
        frames = _check_frames(pcm)
        if self._closed:
            raise AudioError("write to a closed output")
        if not frames:
            return
        self._emit(pcm)
        self.frames_written += frames
        if self.first_sample_mono is None:
            self.first_sample_mono = self._pacer.monotonic()
        ahead_s = (self.frames_written / PCM_RATE
                   - (self._pacer.monotonic() - self.first_sample_mono))
        if ahead_s > self._lead_s:
            await self._pacer.sleep(ahead_s - self._lead_s / 2)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finish()

    def _emit(self, pcm: bytes) -> None:
        """Hand the samples over (inline: small writes)."""

    def _finish(self) -> None:
        """Release what the output holds."""


class NullSink:
    """Discards audio, but paces and counts frames like a real output."""

    name = "null"

    def __init__(self, pacer: Pacer, *, lead_s: float = DEFAULT_LEAD_S) -> None:
        self._pacer = pacer
        self._lead_s = lead_s

    async def open(self, item_name: str) -> Output:
        return _PacedOutput(self._pacer, self._lead_s)


def _wav_header(frames: int) -> bytes:
    # Canonical 44-byte RIFF/WAVE header for integer PCM (fmt chunk of 16 bytes, format tag 1).
    data_bytes = frames * FRAME_BYTES
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, PCM_CHANNELS, PCM_RATE, PCM_RATE * FRAME_BYTES, FRAME_BYTES,
        PCM_WIDTH * 8,
        b"data", data_bytes,
    )


def streaming_wav_header() -> bytes:
    """The header of a WAV whose end is not known yet (a live talk sent to field nodes): its
    sizes are the largest a RIFF can hold, which players (ffmpeg, GStreamer, VLC, mpv) read
    as "until the connection ends"."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 0xFFFFFFFF, b"WAVE",
        b"fmt ", 16, 1, PCM_CHANNELS, PCM_RATE, PCM_RATE * FRAME_BYTES, FRAME_BYTES,
        PCM_WIDTH * 8,
        b"data", 0xFFFFFFFF - 36,
    )


class _WavOutput(_PacedOutput):
    """A WAV file whose sizes are patched after every write, so that the file is a valid WAV
    of what was aired at any moment: after a preemption, and even after a power cut."""

    def __init__(self, file: BinaryIO, path: Path, pacer: Pacer, lead_s: float) -> None:
        super().__init__(pacer, lead_s)
        self._file = file
        self.path = path

    def _emit(self, pcm: bytes) -> None:
        try:
            self._file.seek(0, 2)
            self._file.write(pcm)
            self._file.seek(0)
            self._file.write(_wav_header(self.frames_written + len(pcm) // FRAME_BYTES))
            self._file.flush()
        except OSError as exc:
            raise AudioError(f"cannot write {self.path}: {exc}") from exc

    def _finish(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            raise AudioError(f"cannot close {self.path}: {exc}") from exc


def safe_file_stem(item_name: str) -> str:
    """``item_name`` reduced to [A-Za-z0-9._-], without leading dots: it cannot leave its folder
    (no separators, never "." or "..") nor hide itself."""
    stem = _UNSAFE_NAME_CHARS.sub("_", item_name).lstrip(".")
    return stem or "item"


class FileSink:
    """One WAV file per aired item in ``directory``, named ``<item_name>.wav``."""

    def __init__(self, directory: Path, pacer: Pacer, *, lead_s: float = DEFAULT_LEAD_S) -> None:
        self.directory = directory
        self.name = f"file:{directory}"
        self._pacer = pacer
        self._lead_s = lead_s

    async def open(self, item_name: str) -> Output:
        path = self.directory / f"{safe_file_stem(item_name)}.wav"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            file = path.open("wb")
        except OSError as exc:
            raise AudioError(f"cannot create {path}: {exc}") from exc
        try:
            file.write(_wav_header(0))
            file.flush()
        except OSError as exc:
            file.close()
            raise AudioError(f"cannot write {path}: {exc}") from exc
        return _WavOutput(file, path, self._pacer, self._lead_s)


class WavRecorder:
    """A WAV file written as audio comes, not paced (a live talk's recording beside the air);
    its sizes are patched on every write, so that it is a valid WAV of what came at any
    moment. OSError when it cannot be written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file = path.open("wb")
        self._file.write(_wav_header(0))

    def write(self, pcm: bytes) -> None:
        self._file.seek(0, 2)
        self._file.write(pcm)
        self.frames += _check_frames(pcm)
        self._file.seek(0)
        self._file.write(_wav_header(self.frames))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class _AplayOutput:
    """One ``aplay`` process playing one item."""

    def __init__(self, process: asyncio.subprocess.Process, device: str, pacer: Pacer) -> None:
        self._process = process
        self._device = device
        self._pacer = pacer
        self.first_sample_mono: float | None = None
        self.frames_written = 0
        self._closed = False
        self._stderr: deque[bytes] = deque()
        self._stderr_reader = asyncio.create_task(
            self._collect_stderr(), name=f"aplay-stderr-{device}")

    async def write(self, pcm: bytes) -> None:
        frames = _check_frames(pcm)
        if self._closed:
            raise AudioError(f"write to a closed output on {self._device!r}")
        if not frames:
            return
        stdin = self._process.stdin
        assert stdin is not None
        if self._process.returncode is not None:
            raise await self._failure()
        try:
            stdin.write(pcm)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise await self._failure() from exc
        self.frames_written += frames
        if self.first_sample_mono is None:
            self.first_sample_mono = self._pacer.monotonic()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        task = asyncio.current_task()
        # A preempted item (its task is being cancelled) stops at once instead of playing out
        # what is still buffered: the item that preempted it is waiting for the device.
        preempted = task is not None and task.cancelling() > 0
        killed = False
        try:
            if preempted:
                killed = self._kill()
            else:
                assert self._process.stdin is not None
                self._process.stdin.close()
                try:
                    # Real time, not the pacer: this supervises a process, it does not pace audio.
                    await asyncio.wait_for(self._process.wait(), APLAY_EXIT_TIMEOUT_S)
                except TimeoutError:
                    log.warning("aplay on %r did not exit within %.1f s; killing it",
                                self._device, APLAY_EXIT_TIMEOUT_S)
                    killed = self._kill()
        finally:
            killed = self._kill() or killed
            await self._reap()
        if not killed and self._process.returncode != 0:
            raise self._error()

    def _kill(self) -> bool:
        if self._process.returncode is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        return True

    async def _reap(self) -> None:
        try:
            await self._process.wait()
            await self._stderr_reader
        finally:
            self._stderr_reader.cancel()

    async def _failure(self) -> AudioError:
        """aplay went away under us: wait for it, mark the output closed, describe the failure."""
        self._closed = True
        try:
            await asyncio.wait_for(self._process.wait(), APLAY_EXIT_TIMEOUT_S)
        except TimeoutError:
            self._kill()
        await self._reap()
        return self._error()

    def _error(self) -> AudioError:
        tail = b"".join(self._stderr).decode(errors="replace").strip()
        return AudioError(
            f"aplay on {self._device!r} exited with {self._process.returncode}: {tail}")

    async def _collect_stderr(self) -> None:
        stderr = self._process.stderr
        assert stderr is not None
        size = 0
        while chunk := await stderr.read(1024):
            self._stderr.append(chunk)
            size += len(chunk)
            while size - len(self._stderr[0]) >= STDERR_TAIL_BYTES:
                size -= len(self._stderr.popleft())


class AlsaSink:
    """Plays through ``aplay`` on an ALSA device ("default", "plughw:1,0"), one process per item.

    No pacer sleeps here: the sound card consumes at its own rate and the (capped) pipe blocks
    the writer, so the card's clock paces playback. The pacer only timestamps the first sample.
    """

    def __init__(self, device: str, pacer: Pacer, *, program: str = "aplay") -> None:
        self.device = device
        self.name = device
        self._pacer = pacer
        self._program = program

    def command(self) -> list[str]:
        return [self._program, "-q", "-t", "raw", "-f", "S16_LE", "-r", str(PCM_RATE),
                "-c", str(PCM_CHANNELS), "-D", self.device]

    async def open(self, item_name: str) -> Output:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command(), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise AudioError(f"cannot start {self._program}: {exc}") from exc
        assert process.stdin is not None
        transport = process.stdin.transport
        # drain() returns only once everything is in the pipe, so the pipe is the only buffer.
        transport.set_write_buffer_limits(high=0)
        pipe = transport.get_extra_info("pipe")
        # Not Linux, or aplay already gone and the pipe closed: the first write will tell.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, APLAY_PIPE_BYTES)
        log.debug("aplay on %r started for %s (pid %s)", self.device, item_name, process.pid)
        return _AplayOutput(process, self.device, self._pacer)


def make_sink(output: str, pacer: Pacer, *, data_dir: Path) -> Sink:
    """The sink for a configured ``output``: "null", "file:DIR" (relative to ``data_dir``) or an
    ALSA device name."""
    if output == "null":
        return NullSink(pacer)
    if output.startswith("file:"):
        directory = output.removeprefix("file:").strip()
        if not directory:
            raise ValueError("output 'file:' needs a folder, like 'file:recordings'")
        return FileSink(data_dir / directory, pacer)  # an absolute DIR replaces data_dir
    if not output.strip():
        raise ValueError("output is empty: use 'null', 'file:DIR' or an ALSA device name")
    return AlsaSink(output, pacer)


async def play(sink: Sink, item_name: str, chunks: AsyncIterable[bytes], *,
               volume: float = 1.0,
               on_first_sample: Callable[[float], None] | None = None) -> float:
    """Air ``chunks`` (house PCM) on a new output of ``sink``; the seconds of audio written.

    The output is closed in every case, cancellation (preemption) included, and ``chunks`` is
    closed too if it is an async generator, so a relay's ffmpeg ends with the item.
    ``on_first_sample`` gets the pacer's monotonic time of the first sample, once.
    """
    if not 0.0 <= volume <= MAX_VOLUME:
        raise ValueError(f"volume {volume} is outside 0.0..{MAX_VOLUME}")
    output = await sink.open(item_name)
    try:
        try:
            async for chunk in chunks:
                await output.write(apply_volume(chunk, volume))
                if on_first_sample is not None and output.first_sample_mono is not None:
                    on_first_sample(output.first_sample_mono)
                    on_first_sample = None
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
    finally:
        await output.close()
    return output.frames_written / PCM_RATE


def _frames_per_chunk(chunk_s: float) -> int:
    if chunk_s <= 0:
        raise ValueError(f"chunk_s must be positive, not {chunk_s}")
    return max(1, round(chunk_s * PCM_RATE))


def chunks_of(pcm: bytes, *, chunk_s: float = 0.1) -> Iterator[bytes]:
    """``pcm`` cut into chunks of ``chunk_s`` (the last one may be shorter)."""
    _check_frames(pcm)
    step = _frames_per_chunk(chunk_s) * FRAME_BYTES
    for start in range(0, len(pcm), step):
        yield pcm[start:start + step]


async def iter_pcm(pcm: bytes, *, chunk_s: float = 0.1) -> AsyncIterator[bytes]:
    """``chunks_of`` as an async iterator, the shape ``play()`` takes."""
    for chunk in chunks_of(pcm, chunk_s=chunk_s):
        yield chunk


def _samples(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()  # house PCM is little-endian
    return samples


def _to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def apply_volume(pcm: bytes, volume: float) -> bytes:
    """House PCM scaled by ``volume`` (0.0..2.0), clipped to int16."""
    if not 0.0 <= volume <= MAX_VOLUME:
        raise ValueError(f"volume {volume} is outside 0.0..{MAX_VOLUME}")
    _check_frames(pcm)
    if volume == 1.0:
        return pcm
    scaled = array("h", (max(-32768, min(32767, int(s * volume))) for s in _samples(pcm)))
    return _to_bytes(scaled)


def silence(seconds: float) -> bytes:
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, not {seconds}")
    return bytes(round(seconds * PCM_RATE) * FRAME_BYTES)


CHIME_TONES_HZ = (660.0, 523.0)  # E5 then C5: the "ding-dong" before an announcement
CHIME_TONE_S = 0.5
CHIME_ATTACK_S = 0.005  # a short fade-in, so the tone does not start with a click
CHIME_DECAY_PER_S = 5.0


@functools.lru_cache(maxsize=8)
def chime(*, volume: float = 0.8) -> bytes:
    """A two-tone ding-dong (about 1 s) in house PCM; cached per volume."""
    if not 0.0 <= volume <= 1.0:
        raise ValueError(f"chime volume {volume} is outside 0.0..1.0")
    frames = round(CHIME_TONE_S * PCM_RATE)
    samples = array("h")
    for frequency in CHIME_TONES_HZ:
        for n in range(frames):
            t = n / PCM_RATE
            envelope = min(1.0, t / CHIME_ATTACK_S) * math.exp(-CHIME_DECAY_PER_S * t)
            samples.append(round(32767 * volume * envelope * math.sin(2 * math.pi * frequency * t)))
    return _to_bytes(samples)


TONE_FADE_S = 0.01  # a short fade at either end, so a test tone does not click


def tone(frequency_hz: float, seconds: float, *, amplitude: float = 0.4) -> bytes:
    """A steady sine of ``frequency_hz`` for ``seconds`` in house PCM, ``amplitude`` a fraction
    of full scale (0.4 is about -8 dBFS), faded in and out over ``TONE_FADE_S``."""
    if not 0.0 < frequency_hz < PCM_RATE / 2:
        raise ValueError(f"frequency {frequency_hz} Hz is outside 0..{PCM_RATE // 2} Hz")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    if not 0.0 < amplitude <= 1.0:
        raise ValueError(f"amplitude {amplitude} is outside 0.0..1.0")
    frames = round(seconds * PCM_RATE)
    fade = max(1, round(TONE_FADE_S * PCM_RATE))
    step = 2 * math.pi * frequency_hz / PCM_RATE
    peak = 32767 * amplitude
    samples = array("h", (round(peak * min(1.0, n / fade, (frames - 1 - n) / fade)
                                * math.sin(step * n)) for n in range(frames)))
    return _to_bytes(samples)
