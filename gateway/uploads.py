"""Request bodies that are files (GTFS and fares zips): read in chunks, never past a limit.

`request.content.read(n)` returns what has arrived so far, not n bytes: a body
is read by iterating its chunks until it ends. A `multipart/form-data` body
(`curl -F file=@feed.zip`) is read as the one file it carries; a form that is
not multipart (`curl -d @feed.zip`, which drops the zip's newlines) is refused
with the command that works.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
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


HINT = "send the file itself as the body: curl -T feed.zip URL (or --data-binary @feed.zip)"


def _not_a_file(detail: str) -> Problem:
    return Problem(400, "upload_not_a_file", "The upload carries no file", f"{detail}; {HINT}")


async def _multipart_file(request: web.Request) -> aiohttp.BodyPartReader:
    """Return the first file part of a multipart/form-data body (400 when there is none)."""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, aiohttp.BodyPartReader) and (
            part.filename is not None or part.name == "file"
        ):
            return part
        await part.release()  # a plain form field: not what is uploaded
    raise _not_a_file("the multipart body carries no file part (name it file: -F file=@feed.zip)")


async def upload_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """Yield the uploaded file's bytes: the body, or the file part of a multipart form."""
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        raise _not_a_file("a form body (curl -d) is not a file and loses the zip's newlines")
    if content_type.startswith("multipart/"):
        part = await _multipart_file(request)
        while chunk := await part.read_chunk(CHUNK_BYTES):
            yield chunk
        return
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        yield chunk


async def read_upload(request: web.Request, max_bytes: int, what: str) -> bytes:
    """Return the whole uploaded file: 413 past `max_bytes`, 400 when it is empty."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in upload_chunks(request):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes, what)
        chunks.append(chunk)
    if not size:
        raise Problem(400, "empty_body", "Empty body", f"send {what} as the request body")
    return b"".join(chunks)


async def receive_upload(request: web.Request, target: Path, max_bytes: int) -> int:
    """Stream the body to a file (too large to hold in memory); return its size."""
    what = "a GTFS zip"
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, what)
    size = 0
    with target.open("wb") as out:
        async for chunk in upload_chunks(request):
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
