"""Relaying a station through the real ffmpeg, from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from drivers.errors import StreamFailed
from drivers.pcm import PCM_RATE, PCM_WIDTH
from drivers.stream import relay, relay_with_fallback
from tests.conftest import require_program

pytestmark = pytest.mark.integration

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FALLBACK_LEVEL = 1234
FALLBACK = array("h", [FALLBACK_LEVEL] * 3000).tobytes()  # recognisable, and not a chunk multiple


def sine_mp3(folder: Path, seconds: float) -> bytes:
    ffmpeg = require_program("ffmpeg")
    path = folder / f"sine-{seconds:g}s.mp3"
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds:g}", "-c:a", "libmp3lame", "-b:a", "64k",
         str(path)],
        check=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def mp3s(tmp_path_factory: pytest.TempPathFactory) -> dict[float, bytes]:
    folder = tmp_path_factory.mktemp("mp3")
    return {3.0: sine_mp3(folder, 3.0), 1.0: sine_mp3(folder, 1.0)}


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Starts HTTP-ish servers on 127.0.0.1; gives the URL of each. Hung handlers are cut at
    teardown."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await handler(reader, writer)

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/station.mp3"

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


def file_handler(body: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    return handle


async def silent_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await reader.read()  # accepts the request, never answers; ends when the client hangs up


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/station.mp3"  # nothing listens there any more


async def collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for chunk in chunks:
        into.append(chunk)


def frames(chunks: list[bytes]) -> int:
    return sum(len(c) for c in chunks) // PCM_WIDTH


async def test_relay_yields_the_requested_duration(
        serve: Callable[[Handler], Awaitable[str]], mp3s: dict[float, bytes]) -> None:
    url = await serve(file_handler(mp3s[3.0]))
    chunks: list[bytes] = []

    await collect(relay(url, duration_s=2.0), chunks)

    assert abs(frames(chunks) - 2 * PCM_RATE) <= 0.05 * 2 * PCM_RATE
    assert all(len(c) == round(0.1 * PCM_RATE) * PCM_WIDTH for c in chunks[:-1])
    assert max(array("h", b"".join(chunks))) > 2000  # the sine (lavfi: amplitude 1/8), not silence


async def test_refused_connection_fails_with_ffmpegs_reason() -> None:
    require_program("ffmpeg")
    with pytest.raises(StreamFailed, match=r"ffmpeg exited with .*Connection refused"):
        await collect(relay(refused_url(), duration_s=2.0, connect_timeout_s=10.0), [])


async def test_silent_server_fails_after_the_connect_timeout(
        serve: Callable[[Handler], Awaitable[str]]) -> None:
    require_program("ffmpeg")
    url = await serve(silent_handler)

    with pytest.raises(StreamFailed):
        await collect(relay(url, duration_s=2.0, connect_timeout_s=1.0), [])


async def test_cancelling_the_consumer_kills_ffmpeg(
        serve: Callable[[Handler], Awaitable[str]]) -> None:
    require_program("ffmpeg")
    url = await serve(silent_handler)
    task = asyncio.create_task(collect(relay(url, duration_s=60.0, connect_timeout_s=30.0), []))
    async with asyncio.timeout(5):
        while not processes_with(url):
            await asyncio.sleep(0.01)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert processes_with(url) == []


def processes_with(argument: str) -> list[int]:
    """Live processes with ``argument`` on their command line (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and argument.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return pids


async def test_short_stream_fails_midway_after_its_audio(
        serve: Callable[[Handler], Awaitable[str]], mp3s: dict[float, bytes]) -> None:
    url = await serve(file_handler(mp3s[1.0]))
    chunks: list[bytes] = []

    with pytest.raises(StreamFailed, match=r"ended after 1\.0 s of 3 s"):
        await collect(relay(url, duration_s=3.0), chunks)
    assert abs(frames(chunks) - PCM_RATE) <= 0.05 * PCM_RATE


async def test_missing_ffmpeg_is_a_stream_failure() -> None:
    with pytest.raises(StreamFailed, match="cannot start"):
        await collect(relay(refused_url(), duration_s=1.0, program="communectl-no-ffmpeg"), [])


async def test_fallback_fills_a_refused_stream_exactly() -> None:
    require_program("ffmpeg")
    reasons: list[str] = []
    chunks: list[bytes] = []

    await collect(relay_with_fallback(refused_url(), duration_s=1.0, fallback_pcm=FALLBACK,
                                      on_fallback=reasons.append), chunks)

    assert frames(chunks) == PCM_RATE
    assert set(array("h", b"".join(chunks))) == {FALLBACK_LEVEL}
    assert len(reasons) == 1
    assert "Connection refused" in reasons[0]


async def test_fallback_fills_a_silent_server(
        serve: Callable[[Handler], Awaitable[str]]) -> None:
    require_program("ffmpeg")
    url = await serve(silent_handler)
    reasons: list[str] = []
    chunks: list[bytes] = []

    await collect(relay_with_fallback(url, duration_s=1.5, fallback_pcm=FALLBACK,
                                      on_fallback=reasons.append, connect_timeout_s=1.0), chunks)

    assert frames(chunks) == round(1.5 * PCM_RATE)
    assert set(array("h", b"".join(chunks))) == {FALLBACK_LEVEL}
    assert len(reasons) == 1


async def test_fallback_takes_over_midway(
        serve: Callable[[Handler], Awaitable[str]], mp3s: dict[float, bytes]) -> None:
    url = await serve(file_handler(mp3s[1.0]))
    reasons: list[str] = []
    chunks: list[bytes] = []

    await collect(relay_with_fallback(url, duration_s=3.0, fallback_pcm=FALLBACK,
                                      on_fallback=reasons.append), chunks)
    samples = array("h", b"".join(chunks))

    assert len(samples) == 3 * PCM_RATE
    assert max(samples[:PCM_RATE // 2]) > 2000  # the stream first...
    assert set(samples[-2 * PCM_RATE:]) == {FALLBACK_LEVEL}  # ...then the fallback, looped
    assert reasons == [reasons[0]]
    assert "ended after" in reasons[0]


async def test_without_fallback_the_failure_propagates() -> None:
    require_program("ffmpeg")
    reasons: list[str] = []

    with pytest.raises(StreamFailed, match="Connection refused"):
        await collect(relay_with_fallback(refused_url(), duration_s=1.0, fallback_pcm=None,
                                          on_fallback=reasons.append), [])
    assert reasons == []


async def test_a_full_stream_needs_no_fallback(
        serve: Callable[[Handler], Awaitable[str]], mp3s: dict[float, bytes]) -> None:
    url = await serve(file_handler(mp3s[3.0]))
    reasons: list[str] = []
    chunks: list[bytes] = []

    await collect(relay_with_fallback(url, duration_s=2.0, fallback_pcm=FALLBACK,
                                      on_fallback=reasons.append), chunks)

    assert abs(frames(chunks) - 2 * PCM_RATE) <= 0.05 * 2 * PCM_RATE
    assert FALLBACK_LEVEL not in set(array("h", b"".join(chunks)))
    assert reasons == []
