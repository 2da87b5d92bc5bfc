"""Request bodies that are files (GTFS and fares zips): read in chunks, never past a limit.

`request.content.read(n)` returns what has arrived so far, not n bytes: a body
is read by iterating its chunks until it ends.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.problems import Problem

CHUNK_BYTES = 256 * 1024


def _too_large(max_bytes: int, what: str) -> Problem:
    return Problem(
        413, "payload_too_large", "Payload too large", f"{what} may be at most {max_bytes} bytes"
    )


async def read_limited(stream: aiohttp.StreamReader, max_bytes: int, too_large: Exception) -> bytes:
    """Read a body (of a request or a response) to its end; raise `too_large` past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: web.Request, max_bytes: int, what: str) -> bytes:
    """Return the whole request body: 413 past `max_bytes`, 400 when it is empty."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, what)
    data = await read_limited(request.content, max_bytes, _too_large(max_bytes, what))
    if not data:
        raise Problem(400, "empty_body", "Empty body", f"send {what} as the request body")
    return data


async def receive_upload(request: web.Request, target: Path, max_bytes: int) -> int:
    """Stream the body to a file (too large to hold in memory); return its size."""
    what = "a GTFS zip"
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, what)
    size = 0
    with target.open("wb") as out:
        async for chunk in request.content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes, what)
            await asyncio.to_thread(out.write, chunk)
    if size == 0:
        raise Problem(400, "empty_body", "Empty body", f"send {what} as the request body")
    return size


def new_upload_path(data_dir: Path) -> Path:
    """Create an empty temporary file for an upload under `data_dir/uploads`."""
    uploads = data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=uploads, suffix=".zip")
    os.close(fd)
    return Path(name)
