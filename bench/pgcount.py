"""A TCP proxy in front of PostgreSQL that counts the round trips its clients make.

A round trip is one frontend message that makes the server answer and wait for
the next command: a simple `Query` ('Q') or a `Sync` ('S', the end of an
extended-protocol batch: asyncpg's prepare, bind and execute of one statement,
or a pipelined `executemany`). BEGIN, COMMIT and asyncpg's connection reset
count like any statement, as `log_statement = 'all'` shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


class RoundTrips:
    """The count of round trips seen so far, across every proxied connection."""

    def __init__(self) -> None:
        self.count = 0
        #: With `keep` set, the text of each statement run (for `booking.py --statements`).
        self.keep = False
        self.statements: list[str] = []
        self._named: dict[bytes, str] = {}

    def note(self, kind: bytes, body: bytes) -> None:
        """Remember the text of a simple query, or of a prepared statement when it is bound."""
        if kind == b"Q":
            self.statements.append(body.split(b"\0", 1)[0].decode())
        elif kind == b"P":  # Parse: statement name, query text, ...
            name, text = body.split(b"\0", 2)[:2]
            self._named[name] = text.decode()
            if not name and self.keep:
                self.statements.append(text.decode())
        elif kind == b"B":  # Bind: portal name, statement name, ...
            name = body.split(b"\0", 2)[1]
            if name:
                self.statements.append(self._named.get(name, "?"))


async def _client_to_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: RoundTrips
) -> None:
    while True:  # untyped start-up packets: SSL or GSS requests, then the start-up message
        head = await reader.readexactly(8)
        length, code = struct.unpack("!ii", head)
        writer.write(head + await reader.readexactly(length - 8))
        if code not in (_SSL_REQUEST, _GSS_REQUEST):
            break
    while True:
        head = await reader.readexactly(5)
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        if kind in (b"Q", b"S"):
            seen.count += 1
        body = await reader.readexactly(length - 4)
        if seen.keep or kind == b"P":
            seen.note(kind, body)
        writer.write(head + body)
        if not reader._buffer:  # type: ignore[attr-defined]  # flush once per burst
            await writer.drain()


async def _server_to_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


@asynccontextmanager
async def counting_proxy(database_url: str) -> AsyncIterator[tuple[str, RoundTrips]]:
    """Yield the URL of a proxy to `database_url` (SSL off) and its round-trip counter."""
    target = urlsplit(database_url)
    seen = RoundTrips()

    async def serve(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection(target.hostname, target.port or 5432)
        tasks = [
            asyncio.create_task(_client_to_server(c_reader, s_writer, seen)),
            asyncio.create_task(_server_to_client(s_reader, c_writer)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (c_writer, s_writer):
            w.close()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    userinfo = target.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    query = "sslmode=disable" + (f"&{target.query}" if target.query else "")
    try:
        yield urlunsplit(target._replace(netloc=netloc, query=query)), seen
    finally:
        server.close()
