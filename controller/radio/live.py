"""A live talk ("Phát trực tiếp"): house PCM that arrives as someone speaks, from the page (a
WebSocket relayed by the front process as a streaming POST) or from a microphone on the
gateway (``arecord``), aired by the broadcast coordinator as an item of kind ``live``.

``LiveTalk`` is the jitter buffer between the arriving bytes and the output:

- before the item is on air (its zones warming up) only the last ``JITTER_S`` of audio is
  kept, so that the talk starts with what was just said and no backlog;
- on air, output starts once ``JITTER_S`` is buffered, then goes out chunk by chunk as it
  arrives. When the next bytes are late and the output would run dry (it is fed
  ``RUN_DRY_MARGIN_S`` ahead of the pacer's clock), a chunk of silence goes out instead, and
  the run of silence counts as one gap;
- when more than ``MAX_QUEUE_S`` waits (a sender faster than the output's clock, a burst
  after a stall), the oldest audio is dropped down to ``JITTER_S``: the delay stays bounded;
- the talk ends when its stream closes (everything buffered is played first), when nothing
  arrived for ``STALL_END_S``, or when the coordinator stops it (an emergency, a stop).

What went out, silence included, is also written to a WAV (the recording) beside the air;
the radio service keeps it in the audio library once the talk is over. The same chunks go to
every ``LiveTap``: the field nodes of the talk's zones, each streaming it over HTTP
(``GET /media/{token}.wav``) as the chunks go to the gateway's own output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from controller.radio.items import AirItem
from drivers.audio import WavRecorder
from drivers.errors import AudioError
from drivers.pcm import PCM_CHANNELS, PCM_RATE, PCM_WIDTH

log = logging.getLogger(__name__)

FRAME_BYTES = PCM_WIDTH * PCM_CHANNELS
CHUNK_FRAMES = 441  # 20 ms
CHUNK_BYTES = CHUNK_FRAMES * FRAME_BYTES
JITTER_S = 0.1
RUN_DRY_MARGIN_S = 0.03
MAX_QUEUE_S = 0.35
STALL_END_S = 3.0
# A talk whose first audio does not come within this after it is on air is ended.
FIRST_AUDIO_TIMEOUT_S = 10.0
# A node that starts listening in the talk's first ``TAP_OPENING_S`` gets all that aired, so
# that one told to play as the talk goes on air (its request a moment later, a second over a
# slow 4G link) misses none of the first words: it plays that much behind the gateway. One
# that starts later (it reconnected) gets the last ``TAP_BACKLOG_S``.
TAP_OPENING_S = 2.0
TAP_BACKLOG_S = 0.2
# A listener whose connection takes less than the air gives loses the oldest audio beyond
# this, so that its delay stays bounded as the talk's own does.
TAP_MAX_QUEUE_S = 0.5
LIVE_KIND = "live"
LIVE_TITLE = "Phát trực tiếp"


def bytes_of(seconds: float) -> int:
    return round(seconds * PCM_RATE) * FRAME_BYTES


class LiveTap:
    """One listener to a talk's aired chunks (a field node's stream): what aired since it
    started listening, oldest dropped past ``TAP_MAX_QUEUE_S``; ends with the talk."""

    def __init__(self, backlog: list[bytes]) -> None:
        self._queue: deque[bytes] = deque(backlog)
        self._queued = sum(len(chunk) for chunk in backlog)
        # Until the first read the backlog (the talk's opening, up to TAP_OPENING_S) is kept
        # whole: a chunk that airs before the listener reads must not cut its first words.
        self._limit = self._queued + bytes_of(TAP_MAX_QUEUE_S)
        self._ready = asyncio.Event()
        self._ready.set()
        self._ended = False
        self.closed = False  # the listener went away: the talk forgets it
        self.dropped_bytes = 0

    def push(self, chunk: bytes) -> None:
        self._queue.append(chunk)
        self._queued += len(chunk)
        while self._queued > self._limit and len(self._queue) > 1:
            oldest = self._queue.popleft()
            self._queued -= len(oldest)
            self.dropped_bytes += len(oldest)
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    def close(self) -> None:
        """The listener went away (its connection closed)."""
        self.closed = True
        self._queue.clear()

    async def stream(self) -> AsyncIterator[bytes]:
        """Everything queued at each wake, as one piece: fewer, larger writes to the socket
        when the loop is busy, and no more delay than the wake's."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._queue:
                data = b"".join(self._queue)
                self._queue.clear()
                self._queued = 0
                self._limit = bytes_of(TAP_MAX_QUEUE_S)
                yield data
            # Not "elif": the end may have come with the last chunks, in the same wake.
            if self._ended and not self._queue:
                return


@dataclass(frozen=True)
class TalkEnd:
    """How a talk ended, as the broadcast log has it."""

    outcome: str  # an air log outcome: completed, preempted, cancelled, failed, missed...
    reason: str | None
    duration_s: float
    record_id: str | None


class LiveTalk:
    """The audio of one live talk, between its sender and the coordinator's output."""

    def __init__(self, *, person: str, source: str, recording: Path,
                 monotonic: Callable[[], float], stall_end_s: float = STALL_END_S,
                 first_audio_timeout_s: float = FIRST_AUDIO_TIMEOUT_S) -> None:
        self.id = f"live-{secrets.token_hex(4)}"
        self.person = person
        self.source = source  # "page" or "gateway"
        self.recording = recording
        self._monotonic = monotonic
        self._stall_end_s = stall_end_s
        self._first_audio_timeout_s = first_audio_timeout_s
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._closed = False
        self.end_reason: str | None = None
        self.on_air = asyncio.Event()
        self.ended = asyncio.Event()
        self.end: TalkEnd | None = None
        # What happened to the audio, for the log, the page and the benchmark.
        self.received_bytes = 0
        self.aired_frames = 0
        self.gaps = 0
        self.silence_frames = 0
        self.dropped_frames = 0
        self.on_end: list[Callable[[TalkEnd], None]] = []
        self.item: AirItem | None = None
        # Set by the radio service once the recording is kept (or could not be).
        self.kept = asyncio.Event()
        self.recording_id: str | None = None
        self.peak = 0.0  # the last fed chunk's peak, 0..1 (the page's meter, for arecord)
        self._taps: list[LiveTap] = []
        self._opening: list[bytes] = []  # the first TAP_OPENING_S aired
        self._recent: deque[bytes] = deque(maxlen=max(1, round(TAP_BACKLOG_S * PCM_RATE
                                                               / CHUNK_FRAMES)))
        self._output_over = False

    # -- the sender's side --------------------------------------------------------------------

    def feed(self, pcm: bytes) -> bool:
        """Audio as it arrives (any length: a stream may split a sample); False once the
        talk is over, when the sender should stop."""
        if self._closed or self.end is not None:
            return False
        self.received_bytes += len(pcm)
        self._buffer += pcm
        if not self.on_air.is_set():
            keep = bytes_of(JITTER_S)
            excess = len(self._buffer) - keep
            if excess > 0:
                del self._buffer[:excess - excess % FRAME_BYTES]
        self._arrived.set()
        return True

    def close(self, reason: str | None = None) -> None:
        """The sender is done (its stream ended): what is buffered still plays."""
        if not self._closed:
            self._closed = True
            self.end_reason = self.end_reason or reason
            self._arrived.set()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the field nodes' side ----------------------------------------------------------------

    def listen(self) -> LiveTap:
        """A new listener to the aired chunks: from the start in the talk's opening, else
        from the last ``TAP_BACKLOG_S``; one that comes after the air is over gets that much
        and ends."""
        opening = self.aired_frames <= TAP_OPENING_S * PCM_RATE
        tap = LiveTap(list(self._opening if opening else self._recent))
        if self._output_over or self.end is not None:
            tap.end()
        else:
            self._taps.append(tap)
        return tap

    def share(self, chunk: bytes) -> None:
        """A chunk going to the output now: counted, and to every listener."""
        self.aired_frames += len(chunk) // FRAME_BYTES
        self._recent.append(chunk)
        if self.aired_frames <= TAP_OPENING_S * PCM_RATE:
            self._opening.append(chunk)
        elif self._opening:
            self._opening = []
        if any(tap.closed for tap in self._taps):
            self._taps = [tap for tap in self._taps if not tap.closed]
        for tap in self._taps:
            tap.push(chunk)

    @property
    def listeners(self) -> int:
        return sum(not tap.closed for tap in self._taps)

    def _end_taps(self) -> None:
        self._output_over = True
        for tap in self._taps:
            tap.end()
        self._taps.clear()

    # -- the coordinator's side ---------------------------------------------------------------

    def finish(self, end: TalkEnd) -> None:
        """The coordinator logged the talk's end."""
        if self.end is not None:
            return
        self.end = end
        self._closed = True
        self._arrived.set()
        self._end_taps()
        for callback in self.on_end:
            callback(end)
        self.ended.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """House PCM for ``drivers.audio.play``: what arrives, silence in its gaps; ends when
        the stream closes or stalls. Each chunk also goes to the recording."""
        self.on_air.set()
        try:
            recorder = WavRecorder(self.recording)
        except OSError as exc:
            raise AudioError(f"cannot write the recording {self.recording}: {exc}") from exc
        try:
            async for chunk in self._paced():
                recorder.write(chunk)
                self.share(chunk)
                yield chunk
        finally:
            self._end_taps()
            with contextlib.suppress(OSError):
                recorder.close()

    async def _paced(self) -> AsyncIterator[bytes]:
        jitter = bytes_of(JITTER_S)
        if not await self._wait_for(lambda: len(self._buffer) >= jitter or self._closed,
                                    timeout_s=self._first_audio_timeout_s):
            self.end_reason = (f"no audio came within {self._first_audio_timeout_s:g} s "
                               "of going on air")
            return
        start = self._monotonic()
        out_frames = 0
        last_audio = start
        in_gap = False
        while True:
            ahead_s = start + out_frames / PCM_RATE - self._monotonic()
            queued = len(self._buffer)
            if queued / (FRAME_BYTES * PCM_RATE) + max(ahead_s, 0.0) > MAX_QUEUE_S:
                drop = queued - max(0, jitter - bytes_of(max(ahead_s, 0.0)))
                drop -= drop % FRAME_BYTES
                del self._buffer[:drop]
                self.dropped_frames += drop // FRAME_BYTES
                queued = len(self._buffer)
            if queued >= CHUNK_BYTES:
                chunk = bytes(self._buffer[:CHUNK_BYTES])
                del self._buffer[:CHUNK_BYTES]
                in_gap = False
                last_audio = self._monotonic()
            elif self._closed:
                rest = queued - queued % FRAME_BYTES
                if rest:
                    yield bytes(self._buffer[:rest])
                self._buffer.clear()
                return
            else:
                # Wait for the next bytes until the output is about to run dry.
                wait_s = ahead_s - RUN_DRY_MARGIN_S
                if wait_s > 0 and await self._wait_for(
                        lambda: len(self._buffer) >= CHUNK_BYTES or self._closed,
                        timeout_s=wait_s):
                    continue
                if self._monotonic() - last_audio > self._stall_end_s:
                    self.end_reason = f"the stream stalled for more than {self._stall_end_s:g} s"
                    self._closed = True
                    return
                # Late: what there is, then silence to a whole chunk.
                have = queued - queued % FRAME_BYTES
                chunk = bytes(self._buffer[:have]) + bytes(CHUNK_BYTES - have)
                del self._buffer[:have]
                if not in_gap:
                    self.gaps += 1
                    in_gap = True
                self.silence_frames += (CHUNK_BYTES - have) // FRAME_BYTES
            out_frames += len(chunk) // FRAME_BYTES
            yield chunk

    async def _wait_for(self, condition: Callable[[], bool], *, timeout_s: float) -> bool:
        """Until ``condition`` holds (True) or ``timeout_s`` passes (False)."""
        deadline = self._monotonic() + timeout_s
        while not condition():
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return False
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return True

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "person": self.person, "source": self.source,
                "received_s": round(self.received_bytes / (FRAME_BYTES * PCM_RATE), 3),
                "aired_s": round(self.aired_frames / PCM_RATE, 3), "gaps": self.gaps,
                "silence_s": round(self.silence_frames / PCM_RATE, 3),
                "dropped_s": round(self.dropped_frames / PCM_RATE, 3)}


async def feed_from_process(talk: LiveTalk, process: asyncio.subprocess.Process) -> None:
    """Feed ``talk`` from a capture process's stdout (``arecord``) until either ends."""
    stdout = process.stdout
    assert stdout is not None
    try:
        while not talk.closed:
            data = await stdout.read(CHUNK_BYTES)
            if not data:
                stderr = b""
                if process.stderr is not None:
                    with contextlib.suppress(Exception):
                        stderr = await asyncio.wait_for(process.stderr.read(2048), 1.0)
                await process.wait()
                talk.close(f"the microphone stopped (arecord exited with {process.returncode}"
                           + (f": {stderr.decode(errors='replace').strip()}" if stderr else "")
                           + ")")
                return
            if not talk.feed(data):
                return
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        # Read what is left to the end: the pipes close with the process, not after the loop.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.communicate(), 5.0)
