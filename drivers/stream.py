"""Relaying an upstream station (tiếp âm) for a duration, through ffmpeg.

ffmpeg decodes whatever the station sends (MP3, AAC, HLS...) into house PCM on its stdout. It
runs unpaced (no ``-re``): a live stream arrives at the station's pace anyway, and a finite file
may arrive faster, which the sink's pacing absorbs; pacing here too would pace twice.

Every way the upstream can let us down ends as ``StreamFailed``: ffmpeg missing or exiting with an
error, no data within ``connect_timeout_s`` (at the start or midway), or the stream ending more
than a second before the requested duration. ``relay_with_fallback`` turns that into a fallback
programme for the rest of the slot, so the loudspeakers do not go silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

from drivers.errors import StreamFailed
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH

log = logging.getLogger(__name__)

FRAME_BYTES = PCM_WIDTH * PCM_CHANNELS
SHORT_TOLERANCE_S = 1.0  # a stream may end this much before the duration without failing
READ_BYTES = 16384
STDERR_TAIL_CHARS = 500


def ffmpeg_command(url: str, *, duration_s: float, connect_timeout_s: float,
                   program: str = "ffmpeg") -> list[str]:
    return [
        program, "-nostdin", "-loglevel", "error",
        # ffmpeg's own I/O timeout (microseconds), so a stalled socket ends ffmpeg as well.
        "-rw_timeout", str(round(connect_timeout_s * 1_000_000)),
        "-i", url,
        "-t", f"{duration_s:.3f}", "-vn",
        "-f", "s16le", "-ac", str(PCM_CHANNELS), "-ar", str(PCM_RATE), "pipe:1",
    ]


async def relay(url: str, *, duration_s: float, connect_timeout_s: float = 5.0,
                chunk_s: float = 0.1, program: str = "ffmpeg") -> AsyncGenerator[bytes, None]:
    """House PCM from ``url`` in chunks of ``chunk_s``, for at most ``duration_s``.

    Raises ``StreamFailed`` if no data arrives within ``connect_timeout_s`` (first data, or the
    next data midway), if ffmpeg fails, or if the stream ends more than a second early. ffmpeg
    is killed whenever the generator ends, is closed or is cancelled.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, not {duration_s}")
    if connect_timeout_s <= 0 or chunk_s <= 0:
        raise ValueError("connect_timeout_s and chunk_s must be positive")
    total_bytes = round(duration_s * PCM_RATE) * FRAME_BYTES
    chunk_bytes = max(1, round(chunk_s * PCM_RATE)) * FRAME_BYTES
    command = ffmpeg_command(url, duration_s=duration_s, connect_timeout_s=connect_timeout_s,
                             program=program)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise StreamFailed(f"cannot start {program}: {exc}") from exc
    assert process.stdout is not None and process.stderr is not None
    stderr_task = asyncio.create_task(process.stderr.read(), name=f"ffmpeg-stderr {url}")
    log.info("relaying %s for %.0f s", url, duration_s)
    # Real time, not an injected clock: these deadlines supervise a network peer and a process.
    deadline = time.monotonic() + connect_timeout_s
    buffer = bytearray()
    sent = 0
    try:
        while sent < total_bytes:
            started = sent > 0 or bool(buffer)
            # The first data must come within connect_timeout_s of the start; after that, each
            # read gets connect_timeout_s of its own (the consumer may have paused in between).
            timeout_s = connect_timeout_s if started else max(deadline - time.monotonic(), 0.0)
            try:
                data = await asyncio.wait_for(process.stdout.read(READ_BYTES), timeout_s)
            except TimeoutError:
                what = "the stream stalled: no data" if started else "no data"
                raise StreamFailed(f"{url}: {what} within {connect_timeout_s:g} s") from None
            if not data:
                break
            buffer += data
            while len(buffer) >= chunk_bytes and sent < total_bytes:
                chunk = bytes(buffer[:min(chunk_bytes, total_bytes - sent)])
                del buffer[:len(chunk)]
                sent += len(chunk)
                yield chunk
        if sent >= total_bytes:
            return
        # End of ffmpeg's output: pass on the last whole frames, then judge how it ended.
        tail = bytes(buffer[:min(len(buffer) - len(buffer) % FRAME_BYTES, total_bytes - sent)])
        if tail:
            sent += len(tail)
            yield tail
        returncode = await process.wait()
        if returncode != 0:
            message = (await stderr_task).decode(errors="replace").strip()[-STDERR_TAIL_CHARS:]
            raise StreamFailed(f"{url}: ffmpeg exited with {returncode}: {message}")
        played_s = sent / FRAME_BYTES / PCM_RATE
        if played_s < duration_s - SHORT_TOLERANCE_S:
            raise StreamFailed(
                f"{url}: the stream ended after {played_s:.1f} s of {duration_s:g} s")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        try:
            await process.wait()
        finally:
            stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task


def _looped(pcm: bytes, total_bytes: int, chunk_bytes: int) -> Iterator[bytes]:
    """``total_bytes`` of ``pcm`` repeated, in chunks of at most ``chunk_bytes``."""
    source = pcm or bytes(chunk_bytes)  # an empty fallback is silence
    offset = 0
    while total_bytes > 0:
        size = min(chunk_bytes, total_bytes, len(source) - offset)
        yield source[offset:offset + size]
        total_bytes -= size
        offset = (offset + size) % len(source)


async def relay_with_fallback(url: str, *, duration_s: float, fallback_pcm: bytes | None,
                              on_fallback: Callable[[str], None] | None = None,
                              **kwargs: Any) -> AsyncGenerator[bytes, None]:
    """``relay()``, but when the stream fails (at the start or midway) the rest of
    ``duration_s`` is filled with ``fallback_pcm``, looped; ``on_fallback`` gets the reason.

    With ``fallback_pcm`` None the ``StreamFailed`` propagates.
    """
    if fallback_pcm is not None and len(fallback_pcm) % FRAME_BYTES:
        raise ValueError("fallback_pcm is not whole frames of house PCM")
    chunk_s: float = kwargs.get("chunk_s", 0.1)
    total_bytes = round(duration_s * PCM_RATE) * FRAME_BYTES
    sent = 0
    stream = relay(url, duration_s=duration_s, **kwargs)
    try:
        async for chunk in stream:
            sent += len(chunk)
            yield chunk
        return
    except StreamFailed as exc:
        if fallback_pcm is None:
            raise
        reason = str(exc)
    finally:
        await stream.aclose()
    log.warning("relay of %s failed after %.1f s, playing the fallback: %s",
                url, sent / FRAME_BYTES / PCM_RATE, reason)
    if on_fallback is not None:
        on_fallback(reason)
    chunk_bytes = max(1, round(chunk_s * PCM_RATE)) * FRAME_BYTES
    for chunk in _looped(fallback_pcm, total_bytes - sent, chunk_bytes):
        yield chunk
