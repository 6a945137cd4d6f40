"""Real mosquitto brokers configured as a test needs (passwords, ACLs, TLS, bridges), that can
be stopped and started again on the same port; and the openssl and mosquitto_passwd files they
use."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import aiomqtt

from tests.conftest import _wait_for_port, require_program

STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """One mosquitto on ``config`` (its text written to ``folder``); ``start`` and ``stop`` as
    many times as a test wants, on the same port."""

    def __init__(self, folder: Path, name: str, config: str, port: int) -> None:
        self.program = require_program("mosquitto")
        self.folder, self.name, self.port = folder, name, port
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / f"{name}.conf"
        # As root mosquitto would drop to its own user, which cannot read the test's files.
        self.config.write_text(("user root\n" if os.geteuid() == 0 else "") + config)
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log_file:
            self.process = subprocess.Popen([self.program, "-c", str(self.config)],
                                            stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        _wait_for_port(self.process, self.port, self.log)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()  # mosquitto saves its persistence file on SIGTERM
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def password_file(folder: Path, users: dict[str, str]) -> Path:
    """A mosquitto password file made by ``mosquitto_passwd -b``, as an operator makes it."""
    program = require_program("mosquitto_passwd")
    path = folder / "passwords"
    for i, (user, password) in enumerate(users.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run([program, *create, "-b", str(path), user, password], check=True,
                       capture_output=True)
    return path


def certificates(folder: Path, name: str = "ca") -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 (subjectAltName IP and DNS), made with the
    openssl command line: {"ca", "cert", "key"}."""
    openssl = require_program("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / f"{name}.key", folder / f"{name}.crt"
    key, csr, cert = folder / f"{name}-server.key", folder / f"{name}-server.csr", \
        folder / f"{name}-server.crt"
    ext = folder / f"{name}-server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n"
                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca), "-days", "2", "-subj", f"/CN=communectl test {name}")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return {"ca": ca, "cert": cert, "key": key}


class Listener:
    """A client that records what arrives on its filters (QoS 1)."""

    def __init__(self, port: int, *filters: str, **client: object) -> None:
        self.port, self.filters, self.client = port, filters, client
        self.seen: list[tuple[str, str]] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()

        async def listen() -> None:
            async with aiomqtt.Client("127.0.0.1", self.port, **self.client) as client:  # type: ignore[arg-type]
                for topic_filter in self.filters:
                    await client.subscribe(topic_filter, qos=1)
                ready.set()
                async for message in client.messages:
                    self.seen.append((str(message.topic), bytes(message.payload).decode()))

        self.task = asyncio.create_task(listen())
        done, _ = await asyncio.wait([self.task, asyncio.create_task(ready.wait())],
                                     timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()  # the error that stopped it
        assert ready.is_set(), "listener not subscribed within 10 s"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    def payloads(self, topic: str) -> list[str]:
        return [payload for t, payload in self.seen if t == topic]

