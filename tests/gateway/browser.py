"""Headless Chromium for page tests: load a page, let its scripts run, read the DOM.

`--dump-dom` with `--virtual-time-budget` is the simplest robust way here: Chromium
runs the page's scripts and fetches until the page has been idle for that much
virtual time (time stops while requests are in flight), then prints the DOM. No
DevTools client, no fixed sleeps. Screenshots use `--screenshot` the same way.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: Flags that work in containers and CI: no sandbox (root), no GPU, nothing phoning home.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
)
CHROMIUM_TIMEOUT_S = 90


def find_chromium() -> str:
    """Return Chromium's path; skip without it, but fail under CI, which must have it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("chromium is not installed: apt-get install chromium to run the page tests")


async def _run(chromium: str, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), CHROMIUM_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


async def dump_dom(chromium: str, url: str, budget_ms: int = 20_000) -> str:
    """Return the page's DOM once its scripts and requests have settled."""
    return await _run(chromium, f"--virtual-time-budget={budget_ms}", "--dump-dom", url)


async def screenshot(chromium: str, url: str, target: Path, budget_ms: int = 20_000) -> Path:
    """Save a PNG of the page once it has settled, and return its path."""
    await _run(chromium, f"--virtual-time-budget={budget_ms}", f"--screenshot={target}", url)
    png = await asyncio.to_thread(target.read_bytes)
    assert png.startswith(b"\x89PNG\r\n"), "chromium wrote no PNG"
    return target
