"""Peak memory of the real import paths, for `bench/import.py`: each in a fresh process.

`maas import-gtfs` runs under `/usr/bin/time` (its "Maximum resident set size", as
the issue measured it); the gateway's feed upload goes to a running `maas serve`
(bench/support.py), whose publishing child logs its own peak (VmHWM) when it is done.
Before each run the operator's feed versions are deleted, so that every run stores
the feed rather than finding it current.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from support import REDIS_URL, free_port, start_gateway, stop_gateway, wait_ready

from gateway import credentials

MAAS = Path(sys.executable).with_name("maas")
#: The line the gateway logs once a publishing child is done (gateway/feeds.py).
PUBLISHED = "feed published in a child process"


async def _fresh_operator(pool: asyncpg.Pool, operator_id: str) -> None:
    """Make sure the operator exists and has no feed version."""
    await pool.execute(
        "INSERT INTO operators (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", operator_id
    )
    await pool.execute("DELETE FROM feed_versions WHERE operator_id = $1", operator_id)


async def cli_peaks_kib(pool: asyncpg.Pool, url: str, feed: Path, runs: int) -> list[int]:
    """Run `maas import-gtfs` `runs` times; return each run's peak RSS, KiB."""
    peaks = []
    env = os.environ | {
        "MAAS_DATABASE_URL": url,
        "MAAS_REDIS_URL": REDIS_URL,
        "MAAS_DATA_DIR": tempfile.mkdtemp(prefix="maas_bench_"),
    }
    command = ["/usr/bin/time", "-f", "peak_rss_kib=%M", str(MAAS), "import-gtfs"]
    for _ in range(runs):
        await _fresh_operator(pool, "vilnius-cli")
        done = await asyncio.to_thread(
            subprocess.run,
            [*command, "--operator", "vilnius-cli", str(feed)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"peak_rss_kib=(\d+)", done.stderr)
        if found is None or "imported as version" not in done.stdout:
            raise RuntimeError(f"maas import-gtfs did not import: {done.stdout}{done.stderr}")
        peaks.append(int(found.group(1)))
    return peaks


def _read_peaks(stream: object, peaks: queue.Queue[int]) -> None:
    """Read the gateway's log lines; put each publishing child's peak on the queue."""
    for raw in stream:  # type: ignore[attr-defined]
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(line, dict) and line.get("message") == PUBLISHED:
            peaks.put(int(line["peak_rss_kib"]))


async def upload_peaks_kib(pool: asyncpg.Pool, url: str, feed: Path, runs: int) -> list[int]:
    """Upload the feed `runs` times to a running `maas serve`; return each child's peak, KiB."""
    key = await credentials.create_key(pool, "admin", "bench import admin")
    auth = {"Authorization": f"Bearer {key}"}
    port = free_port()
    process = start_gateway(url, port, {"MAAS_LOG_LEVEL": "INFO"}, stderr=True)
    peaks: queue.Queue[int] = queue.Queue()
    threading.Thread(target=_read_peaks, args=(process.stderr, peaks), daemon=True).start()
    found = []
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            for _ in range(runs):
                await _fresh_operator(pool, "vilnius-up")
                body = await asyncio.to_thread(feed.read_bytes)
                headers = auth | {"Content-Type": "application/zip"}
                async with session.put(
                    f"{base}/v1/operators/vilnius-up/feed", data=body, headers=headers
                ) as resp:
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"upload: {resp.status} {await resp.text()}")
                found.append(await asyncio.to_thread(peaks.get, True, 60))
    finally:
        stop_gateway(process)
    return found
