"""What a field node's stream of a live talk gets (controller.radio.live.LiveTap), without a
network: everything queued at each wake in one piece, the end after the last chunk even when
both come in the same wake, the oldest dropped past its bound, and the talk's opening for a
node that comes in its first seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.radio.live import (
    TAP_BACKLOG_S,
    TAP_MAX_QUEUE_S,
    TAP_OPENING_S,
    LiveTalk,
    LiveTap,
    bytes_of,
)

CHUNK = bytes_of(0.02)


async def drain(tap: LiveTap) -> list[bytes]:
    return [piece async for piece in tap.stream()]


def test_the_stream_ends_after_chunks_that_came_with_the_end() -> None:
    async def scenario() -> None:
        tap = LiveTap([])
        tap.push(b"\x01\x00" * 10)
        tap.push(b"\x02\x00" * 10)
        tap.end()  # in the same turn of the loop as the last chunks
        pieces = await asyncio.wait_for(drain(tap), 1)
        assert pieces == [b"\x01\x00" * 10 + b"\x02\x00" * 10]

    asyncio.run(scenario())


def test_chunks_pushed_while_the_reader_waits_wake_it() -> None:
    async def scenario() -> None:
        tap = LiveTap([b"a" * CHUNK])
        got: list[bytes] = []

        async def read() -> None:
            async for piece in tap.stream():
                got.append(piece)

        reader = asyncio.create_task(read())
        await asyncio.sleep(0)
        assert got == [b"a" * CHUNK]  # the backlog at once
        tap.push(b"b" * CHUNK)
        await asyncio.sleep(0)
        assert got[-1] == b"b" * CHUNK
        tap.end()
        await asyncio.wait_for(reader, 1)

    asyncio.run(scenario())


def test_a_slow_reader_loses_the_oldest_beyond_the_bound() -> None:
    tap = LiveTap([])
    pushed = round(2 * TAP_MAX_QUEUE_S / 0.02)
    for n in range(pushed):
        tap.push(bytes([n % 256]) * CHUNK)
    kept = bytes_of(TAP_MAX_QUEUE_S) // CHUNK
    assert tap.dropped_bytes == (pushed - kept) * CHUNK

    async def scenario() -> list[bytes]:
        tap.end()
        return await drain(tap)

    (piece,) = asyncio.run(scenario())
    assert len(piece) == kept * CHUNK
    assert piece[-1] == (pushed - 1) % 256  # the newest kept, the oldest gone


def test_a_closed_listener_is_forgotten() -> None:
    tap = LiveTap([b"x"])
    tap.close()
    assert tap.closed


def aired_talk(seconds: float) -> tuple[LiveTalk, list[bytes]]:
    """A talk that aired ``seconds`` of numbered chunks."""
    talk = LiveTalk(person="hoa", source="page", recording=Path("/nonexistent.wav"),
                    monotonic=lambda: 0.0)
    chunks = [n.to_bytes(2, "little") * (CHUNK // 2) for n in range(round(seconds / 0.02))]
    for chunk in chunks:
        talk.share(chunk)
    return talk, chunks


def first_piece(tap: LiveTap) -> bytes:
    async def scenario() -> bytes:
        tap.end()
        return b"".join(await drain(tap))

    return asyncio.run(scenario())


def test_a_node_in_the_talks_opening_hears_it_from_its_start() -> None:
    talk, chunks = aired_talk(TAP_OPENING_S / 2)
    assert first_piece(talk.listen()) == b"".join(chunks)


def test_a_node_that_comes_later_starts_a_moment_back() -> None:
    talk, chunks = aired_talk(TAP_OPENING_S * 2)
    backlog = round(TAP_BACKLOG_S / 0.02)
    assert first_piece(talk.listen()) == b"".join(chunks[-backlog:])


def test_listeners_get_what_airs_after_they_came_and_end_with_the_output() -> None:
    talk, _ = aired_talk(TAP_OPENING_S * 2)
    first, second = talk.listen(), talk.listen()
    second.close()
    assert talk.listeners == 1
    talk.share(b"\x07\x00" * (CHUNK // 2))
    talk._end_taps()
    assert first_piece(first).endswith(b"\x07\x00" * (CHUNK // 2))
    late = talk.listen()  # after the air: what is left, then the end
    assert first_piece(late)


def test_a_chunk_before_the_first_read_keeps_the_whole_opening() -> None:
    talk, chunks = aired_talk(TAP_OPENING_S * 0.75)  # more than the 0.5 s bound
    tap = talk.listen()
    more = b"\x09\x00" * (CHUNK // 2)
    tap.push(more)  # aired before the node's first read
    assert first_piece(tap) == b"".join(chunks) + more
