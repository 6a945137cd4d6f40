"""A small WebSocket client (wsproto over asyncio streams) for the live talk socket
``/api/v1/live`` of the front process: what the page does, from Python (tests, bench)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any, Self

import httpx
import wsproto
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


@dataclass
class Closed:
    code: int
    reason: str


class LiveSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 connection: wsproto.WSConnection) -> None:
        self._reader, self._writer, self._ws = reader, writer, connection
        self.messages: asyncio.Queue[str | bytes | Closed] = asyncio.Queue()
        self.closed: Closed | None = None
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, host: str, port: int, *, headers: dict[str, str],
                   path: str = "/api/v1/live") -> Self:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            writer.write(ws.send(Request(host=f"{host}:{port}", target=path, extra_headers=[
                (k.encode(), v.encode()) for k, v in headers.items()])))
            await writer.drain()
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed during the handshake")
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        return cls(reader, writer, ws)
                    if isinstance(event, RejectConnection):
                        raise ConnectionError(f"handshake refused: {event.status_code}")
        except BaseException:
            writer.close()  # never left for the garbage collector to find open
            raise

    async def _read(self) -> None:
        text: list[str] = []
        binary: list[bytes] = []
        try:
            data = b""  # what came with the handshake is already in the connection
            while True:
                if data:
                    self._ws.receive_data(data)
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        text.append(event.data)
                        if event.message_finished:
                            self.messages.put_nowait("".join(text))
                            text.clear()
                    elif isinstance(event, BytesMessage):
                        binary.append(bytes(event.data))
                        if event.message_finished:
                            self.messages.put_nowait(b"".join(binary))
                            binary.clear()
                    elif isinstance(event, Ping):
                        self._writer.write(self._ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self.closed = Closed(event.code, event.reason or "")
                        with contextlib.suppress(Exception):
                            self._writer.write(self._ws.send(event.response()))
                        self.messages.put_nowait(self.closed)
                        return
                data = await self._reader.read(65536)
                if not data:
                    break
        except (ConnectionError, OSError):
            pass
        if self.closed is None:
            self.closed = Closed(1006, "")
            self.messages.put_nowait(self.closed)

    async def send(self, data: str | bytes | dict[str, Any]) -> None:
        payload = json.dumps(data) if isinstance(data, dict) else data
        message: Message[Any] = TextMessage(payload) if isinstance(payload, str) \
            else BytesMessage(payload)
        self._writer.write(self._ws.send(message))
        await self._writer.drain()

    async def next(self, timeout_s: float = 20.0) -> dict[str, Any] | Closed:
        """The next text message (parsed) or the close."""
        while True:
            message = await asyncio.wait_for(self.messages.get(), timeout_s)
            if isinstance(message, Closed):
                return message
            if isinstance(message, str):
                parsed: dict[str, Any] = json.loads(message)
                return parsed

    async def wait_closed(self, timeout_s: float = 20.0) -> Closed:
        while True:
            message = await self.next(timeout_s)
            if isinstance(message, Closed):
                return message

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._ws.state is wsproto.connection.ConnectionState.OPEN:
                self._writer.write(self._ws.send(CloseConnection(code=1000)))
                await self._writer.drain()
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5.0)
        finally:
            self._task.cancel()
            self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def sign_in_cookie(base_url: str, name: str, password: str) -> tuple[dict[str, str], str]:
    """Sign in as the page does: the headers a socket sends (Cookie, Origin), and the CSRF
    token."""
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        response = await client.post("/api/v1/session",
                                     json={"name": name, "password": password})
        assert response.status_code in (200, 201), response.text
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        host = base_url.partition("://")[2].rstrip("/")
        return {"Cookie": cookie, "Origin": f"http://{host}"}, response.json()["csrf"]
