"""Headless Chromium for page tests: a screenshot or the DOM of a page, and PNG pixels.

Debian's `chromium` (CI installs it); a test that needs it is skipped only when it
is missing. Each run has a profile of its own, so engineers sharing a machine do not
collide. PNGs are decoded here with zlib (no Pillow in the project).
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import pytest

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-extensions",
    "--virtual-time-budget=15000",
)


def chromium() -> str:
    """Return the Chromium binary, or skip the test when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


async def _run(*args: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}"
    return out


async def dump_dom(url: str) -> str:
    """Return the page's DOM after its scripts ran."""
    return (await _run("--dump-dom", url)).decode()


async def screenshot(url: str, target: Path, width: int = 1000, height: int = 700) -> bytes:
    """Return a PNG screenshot of the page."""
    await _run(f"--window-size={width},{height}", f"--screenshot={target}", url)
    return await asyncio.to_thread(target.read_bytes)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prior: bytes, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prior[i]
        corner = prior[i - bpp] if i >= bpp else 0
        add = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
        line[i] = (line[i] + add) & 0xFF


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Return width, height and the RGB pixels of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8, "8-bit PNGs only"
            assert colour in (2, 6), "RGB or RGBA PNGs only"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    prior, pixels = bytes(stride), []
    for row in range(height):
        start = row * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], line, prior, bpp)
        pixels += [(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp)]
        prior = bytes(line)
    return width, height, pixels
