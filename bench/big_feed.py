"""Big-feed benchmark: /health latency while a `maas serve` stores and compiles a big feed.

Starts a gateway (`maas serve`, bench/support.py) on a scratch database, then probes
`/health` every `--probe-ms` for a few seconds while idle (the reference, same run), and
again while it stores and compiles a feed uploaded with `PUT /v1/operators/{id}/feed`:
a synthetic one of `--trips` x `--stops` stop_times (default 2,500,000), or `--feed PATH`.
Prints the probe latencies (median, p99, max), the upload and rebuild times, and the
gateway's peak RSS (VmHWM) before and after. Never asserts a time.

    .venv/bin/python bench/big_feed.py [--trips 50000] [--stops 50] [--feed PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import free_port, start_gateway, stop_gateway, wait_ready

from gateway import credentials
from gateway.migrate import migrate
from tests.timetable_data import synthetic_feed

#: The issue's bound: the process keeps answering within 100 ms.
SLOW_S = 0.1


def _vm_hwm_mib(pid: int) -> float:
    """Return a process's peak RSS (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    """Return the pids of a process's children, started by any of its threads."""
    return [
        int(p) for task in Path(f"/proc/{pid}/task").glob("*") for p in _read(task / "children")
    ]


def _read(path: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return path.read_text().split()
    return []


def _rss_mib(pid: int, field: str = "VmRSS:") -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


async def _sample_rss(root: int, until: asyncio.Event, peaks: dict[str, float]) -> None:
    """Every 100 ms, note the gateway's and its children's summed RSS and each child's peak."""
    while not until.is_set():
        tree, todo = [root], [root]
        while todo:
            with contextlib.suppress(OSError):
                kids = _children(todo.pop())
                tree.extend(kids)
                todo.extend(kids)
        peaks["tree"] = max(peaks.get("tree", 0.0), sum(_rss_mib(p) for p in tree))
        for p in tree[1:]:
            peaks["child"] = max(peaks.get("child", 0.0), _rss_mib(p, "VmHWM:"))
        await asyncio.sleep(0.1)


async def _probe(
    session: aiohttp.ClientSession, base: str, every_s: float, until: asyncio.Event
) -> list[tuple[float, float]]:
    """GET /health every `every_s` until told; return (seconds since the first, latency)."""
    probes = []
    first = time.perf_counter()
    while not until.is_set():
        start = time.perf_counter()
        async with session.get(f"{base}/health") as resp:
            await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"/health answered {resp.status}")
        probes.append((start - first, time.perf_counter() - start))
        await asyncio.sleep(every_s)
    return probes


def _summary(name: str, probes: list[tuple[float, float]]) -> str:
    ordered = sorted(latency for _, latency in probes)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    worst_at = max(probes, key=lambda p: p[1])[0]
    slow = sum(latency > SLOW_S for latency in ordered)
    return (
        f"  {name:<34} n={len(ordered):5d}  median {1000 * statistics.median(ordered):6.1f} ms"
        f"  p99 {1000 * p99:7.1f} ms  max {1000 * ordered[-1]:7.1f} ms"
        f" (at {worst_at:.1f} s of {probes[-1][0]:.1f})  over {1000 * SLOW_S:.0f} ms: {slow}"
    )


async def _publish(session: aiohttp.ClientSession, base: str, key: str, feed: Path) -> int:
    auth = {"Authorization": f"Bearer {key}"}
    headers = auth | {"Content-Type": "application/zip"}
    resp = await session.post(
        f"{base}/v1/operators", json={"id": "big", "name": "Big"}, headers=auth
    )
    if resp.status not in (201, 409):
        raise RuntimeError(await resp.text())
    with feed.open("rb") as body:
        resp = await session.put(f"{base}/v1/operators/big/feed", data=body, headers=headers)
        if resp.status not in (200, 201):
            raise RuntimeError(await resp.text())
        return int((await resp.json())["version_id"])


async def _rebuilt(session: aiohttp.ClientSession, base: str) -> None:
    """Wait until the gateway's timetable holds the new feed's stops."""
    while True:
        async with session.get(f"{base}/v1/stops", params={"limit": "1"}) as resp:
            if resp.status == 200 and (await resp.json())["items"]:
                return
        await asyncio.sleep(0.2)


async def bench(url: str, feed: Path, every_s: float) -> None:
    async with asyncpg.create_pool(url, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        key = await credentials.create_key(pool, "admin", "bench admin")
    port = free_port()
    process = start_gateway(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        pids = [process.pid, *_children(process.pid)]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            idle_done = asyncio.Event()
            idle = asyncio.create_task(_probe(session, base, every_s, idle_done))
            await asyncio.sleep(5)
            idle_done.set()
            idle_latencies = await idle
            rss_before = max(_vm_hwm_mib(p) for p in pids)
            peaks: dict[str, float] = {}
            sampled = asyncio.Event()
            sampler = asyncio.create_task(_sample_rss(process.pid, sampled, peaks))
            busy_done = asyncio.Event()
            busy = asyncio.create_task(_probe(session, base, every_s, busy_done))
            start = time.perf_counter()
            await _publish(session, base, key, feed)
            upload_s = time.perf_counter() - start
            upload_latencies = list(await _stop_after(busy, busy_done))
            busy_done = asyncio.Event()
            busy = asyncio.create_task(_probe(session, base, every_s, busy_done))
            await _rebuilt(session, base)
            rebuild_s = time.perf_counter() - start - upload_s
            rebuild_latencies = await _stop_after(busy, busy_done)
            sampled.set()
            await sampler
        rss_after = max(_vm_hwm_mib(p) for p in pids)
    finally:
        stop_gateway(process)
    size_mib = (await asyncio.to_thread(feed.stat)).st_size / 2**20
    print(f"feed: {feed.name} ({size_mib:.1f} MiB zip), load {os.getloadavg()}")
    print(_summary("/health idle (reference)", idle_latencies))
    print(_summary("/health during upload + store", upload_latencies))
    print(_summary("/health during read back + compile", rebuild_latencies))
    print(
        f"  upload (validate + store) {upload_s:.1f} s, timetable rebuilt {rebuild_s:.1f} s after"
    )
    print(f"  gateway peak RSS: {rss_before:.0f} MiB before the upload, {rss_after:.0f} MiB after")
    print(
        f"  sampled every 100 ms: gateway + children RSS at most {peaks.get('tree', 0):.0f} MiB,"
        f" a compile child's peak RSS {peaks.get('child', 0):.0f} MiB"
    )


async def _stop_after(
    task: asyncio.Task[list[tuple[float, float]]], done: asyncio.Event
) -> list[tuple[float, float]]:
    done.set()
    return await task


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trips", type=int, default=50_000)
    parser.add_argument("--stops", type=int, default=50)
    parser.add_argument("--feed", type=Path, help="a GTFS zip instead of the synthetic feed")
    parser.add_argument("--probe-ms", type=float, default=20.0)
    args = parser.parse_args()
    from support import scratch_database

    with tempfile.TemporaryDirectory() as work:
        feed = args.feed or synthetic_feed(Path(work) / "big.zip", args.trips, args.stops)
        async with scratch_database() as url:
            await bench(url, feed, args.probe_ms / 1000)


if __name__ == "__main__":
    asyncio.run(main())
