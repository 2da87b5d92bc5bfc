"""Request bodies that are files (GTFS and fares zips): read in chunks, never past a limit.

`request.content.read(n)` returns what has arrived so far, not n bytes: a body
is read by iterating its chunks until it ends.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway.problems import Problem

CHUNK_BYTES = 256 * 1024


async def _chunks(request: web.Request, max_bytes: int, what: str) -> AsyncIterator[bytes]:
    """Yield the body's chunks; 413 as soon as it passes `max_bytes`, 400 when it is empty."""
    too_large = Problem(
        413, "payload_too_large", "Payload too large", f"{what} may be at most {max_bytes} bytes"
    )
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        yield chunk
    if size == 0:
        raise Problem(400, "empty_body", "Empty body", f"send {what} as the request body")


async def read_upload(request: web.Request, max_bytes: int, what: str) -> bytes:
    """Return the whole body (for uploads small enough to hold in memory)."""
    return b"".join([chunk async for chunk in _chunks(request, max_bytes, what)])


async def receive_upload(request: web.Request, target: Path, max_bytes: int) -> int:
    """Stream the body to a file; return its size."""
    size = 0
    with target.open("wb") as out:
        async for chunk in _chunks(request, max_bytes, "a GTFS zip"):
            size += len(chunk)
            await asyncio.to_thread(out.write, chunk)
    return size


def new_upload_path(data_dir: Path) -> Path:
    """Create an empty temporary file for an upload under `data_dir/uploads`."""
    uploads = data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=uploads, suffix=".zip")
    os.close(fd)
    return Path(name)
