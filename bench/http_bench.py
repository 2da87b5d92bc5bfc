"""The HTTP part of bench/planner.py: `maas import-gtfs`, then `GET /v1/journeys` on `maas serve`.

Each request is timed right after the same query in process (by the stops'
coordinates, five journeys, as the API answers by default), so all see the
same load on a shared machine: once with `prices=false` (the HTTP layer over
the same planning) and once priced, as the API answers by default.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from support import percentile_ms, running_gateway, scratch_database, wait_ready

from journeys.planner import Coordinates, JourneyQuery, Planner

MAX_TRANSFERS = 6
LIMIT = 5

#: (origin stop id, destination stop id, departure epoch second)
Query = tuple[str, str, int]


#: `maas` that reports its own peak RSS (VmHWM) on exit. The rusage of a child is no
#: good: Linux counts in it the parent's memory at the fork, before the exec.
_MAAS_WITH_PEAK = """
import atexit, pathlib, sys
def peak():
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            sys.stderr.write(line + "\\n")
atexit.register(peak)
from gateway.cli.entry import main
sys.argv = ["maas", *sys.argv[1:]]
sys.exit(main())
"""


def _run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a `maas` command; return (seconds, its peak RSS in MiB)."""
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _MAAS_WITH_PEAK, *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"maas {args[:2]} failed: {done.stderr[-500:]}")
    peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("VmHWM:")]
    return time.perf_counter() - start, int(peak[-1]) / 1024


def import_feed(url: str, path: Path, operator: str) -> tuple[float, float]:
    """Create the operator and import the feed with the CLI; return (seconds, peak MiB)."""
    env = os.environ | {"MAAS_DATABASE_URL": url, "MAAS_LOG_LEVEL": "WARNING"}
    _run_measured(["operators", "create", "--id", operator, "--name", operator], env)
    return _run_measured(["import-gtfs", "--operator", operator, str(path)], env)


def _coordinates(planner: Planner, stop_id: str) -> Coordinates:
    s = planner.snapshot.stops
    i = s.index[stop_id]
    return Coordinates(float(s.lat[i]), float(s.lon[i]))


async def _interleaved(
    base: str, planner: Planner, queries: list[Query]
) -> tuple[list[float], list[float], list[float]]:
    """Return (in-process, HTTP priced, HTTP unpriced) seconds of the same coordinate queries.

    One after the other for each query. Unpriced (`prices=false`) the endpoint does what
    the in-process call does (plan and build the itineraries) plus JSON: what the HTTP
    layer adds. Priced (the default) it also prices each journey with the operators' fares.
    """
    tz = ZoneInfo(planner.snapshot.timezone)
    local: list[float] = []
    priced: list[float] = []
    unpriced: list[float] = []
    async with aiohttp.ClientSession() as session:

        async def timed(params: dict[str, str]) -> float:
            start = time.perf_counter()
            async with session.get(f"{base}/v1/journeys", params=params) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"/v1/journeys answered {resp.status}: {body[:300]!r}")
            return time.perf_counter() - start

        for i, (a, b, epoch) in enumerate(queries[:20] + queries):
            origin, destination = _coordinates(planner, a), _coordinates(planner, b)
            when = dt.datetime.fromtimestamp(epoch, tz)
            query = JourneyQuery(
                origin, destination, depart_at=when, max_transfers=MAX_TRANSFERS, limit=LIMIT
            )
            start = time.perf_counter()
            planner.plan(query)
            in_process_s = time.perf_counter() - start
            params = {
                "from": f"{origin.lat},{origin.lon}",
                "to": f"{destination.lat},{destination.lon}",
                "depart_at": when.isoformat(),
                "max_transfers": str(MAX_TRANSFERS),
                "limit": str(LIMIT),
            }
            priced_s = await timed(params)
            unpriced_s = await timed(params | {"prices": "false"})
            if i >= 20:  # the first 20 warm up the day view and the connection
                local.append(in_process_s)
                priced.append(priced_s)
                unpriced.append(unpriced_s)
    return local, priced, unpriced


async def _http(path: Path, operator: str, planner: Planner, queries: list[Query]) -> None:
    async with scratch_database() as url:
        import_s, peak_mib = await asyncio.to_thread(import_feed, url, path, operator)
        print(f"maas import-gtfs {path.name}: {import_s:.1f} s, peak RSS {peak_mib:.0f} MiB")
        async with running_gateway(url) as base:
            await wait_ready(base, timetable=True, timeout_s=600)
            local, priced, unpriced = await _interleaved(base, planner, queries)
    l95 = percentile_ms(local, 95)
    print(
        f"coordinates, {LIMIT} journeys: in process (plan) median"
        f" {percentile_ms(local, 50):.2f} ms, p95 {l95:.2f} ms"
    )
    for name, remote in (("prices=false", unpriced), ("priced (the default)", priced)):
        r95 = percentile_ms(remote, 95)
        print(
            f"  HTTP {name}: median {percentile_ms(remote, 50):.2f} ms, p95 {r95:.2f} ms;"
            f" adds {100 * (r95 / l95 - 1):.0f} % to the in-process p95"
        )


def report_http(path: Path, operator: str, planner: Planner, queries: list[Query]) -> None:
    """Print the CLI import's time and peak memory and the HTTP latency next to in-process."""
    asyncio.run(_http(path, operator, planner, queries))
