"""Benchmark: journey planner on vilnius.zip next to pynigiri (C++ nigiri, behind MOTIS).

Prints snapshot build time and peak memory, stop-to-stop latency (median, p95)
for 500 random reachable stop pairs around 08:00 on a weekday, 60-minute range
query p95, and pynigiri on the same queries in the same run: its latency, the
ratio, and how often both agree on the earliest arrival (to the minute, as
nigiri counts in minutes). Then the same queries with the stops' coordinates,
in process and as `GET /v1/journeys` (JSON) on `maas serve` in a child process
over a scratch database of the local PostgreSQL (see bench/support.py), with
vilnius.zip imported by `maas import-gtfs`. Never asserts a time.
Run: .venv/bin/python bench/planner.py  (pynigiri: pip install -e '.[bench]')
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np
from support import running_gateway, scratch_database, wait_ready

from gtfs.feed.read import read_tables
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.tables import original_id
from journeys.planner import Coordinates, JourneyQuery, Planner

FEED = Path("/work/shared/data/gtfs/vilnius.zip")
DAY = dt.date(2015, 9, 15)  # a Tuesday
PAIRS = 500
RANGE_QUERIES = 200
MAX_TRANSFERS = 6


@dataclass(frozen=True, slots=True)
class BenchQuery:
    """One stop-to-stop query: namespaced stop ids and an aware departure time."""

    origin: str
    destination: str
    depart_at: dt.datetime


def query_coordinates(snap: Snapshot, q: BenchQuery) -> tuple[Coordinates, Coordinates]:
    """Return the coordinates of a query's stops (for coordinate queries, e.g. over HTTP)."""
    a, b = snap.stops.index[q.origin], snap.stops.index[q.destination]
    s = snap.stops
    return Coordinates(float(s.lat[a]), float(s.lon[a])), Coordinates(
        float(s.lat[b]), float(s.lon[b])
    )


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) of durations given in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Return (elapsed seconds, result) of a call."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def reachable_queries(planner: Planner, n: int, seed: int = 2026) -> list[BenchQuery]:
    """Return n random stop pairs, leaving between 07:30 and 08:30, that have a journey."""
    snap = planner.snapshot
    rng = random.Random(seed)
    served = sorted({snap.stops.ids[s] for s in snap.trips.stop.tolist()})
    tz = ZoneInfo(snap.timezone)
    out: list[BenchQuery] = []
    while len(out) < n:
        a, b = rng.sample(served, 2)
        when = dt.datetime.combine(DAY, dt.time(7, 30), tz) + dt.timedelta(
            minutes=rng.randrange(60)
        )
        if planner.plan(JourneyQuery(a, b, depart_at=when, max_transfers=MAX_TRANSFERS)):
            out.append(BenchQuery(a, b, when))
    return out


def earliest_arrival_s(
    planner: Planner, q: BenchQuery, window_s: int = 0
) -> tuple[float, int | None]:
    """Plan one query; return (seconds taken, earliest arrival epoch second or None)."""
    query = JourneyQuery(
        q.origin,
        q.destination,
        depart_at=q.depart_at,
        window_s=window_s,
        max_transfers=MAX_TRANSFERS,
    )
    elapsed, found = timed(lambda: planner.plan(query))
    return elapsed, min((int(i.arrival.timestamp()) for i in found), default=None)


def build_figures(tables_path: Path) -> tuple[Snapshot, float, float]:
    """Read the feed, then build the snapshot; return it with build seconds and peak MB."""
    tables = read_tables(tables_path, "vilnius")
    tracemalloc.start()
    elapsed, snap = timed(lambda: build_snapshot(tables))
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return snap, elapsed, peak_mb


def feed_with_our_footpaths(snap: Snapshot, folder: Path) -> Path:
    """Copy the feed with our footpaths and transfer times as transfers.txt (rounded up to minutes).

    nigiri then walks exactly where and (to its one-minute resolution) as long as we do,
    so the two planners answer the same question.
    """
    path = folder / FEED.name
    f, stops = snap.footpaths, snap.stops
    lines = ["from_stop_id,to_stop_id,transfer_type,min_transfer_time"]
    origin = np.repeat(np.arange(len(stops.ids)), np.diff(f.ptr))
    for a, b, seconds in zip(
        origin.tolist(), f.to_stop.tolist(), f.duration_s.tolist(), strict=True
    ):
        lines.append(
            f"{original_id(stops.ids[a])},{original_id(stops.ids[b])},2,{-(-seconds // 60) * 60}"
        )
    for a, seconds in enumerate(f.transfer_s.tolist()):
        stop = original_id(stops.ids[a])
        lines.append(f"{stop},{stop},2,{-(-seconds // 60) * 60}")
    with zipfile.ZipFile(FEED) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in source.namelist():
            if name != "transfers.txt":
                copy.writestr(name, source.read(name))
        copy.writestr("transfers.txt", "\n".join(lines) + "\n")
    return path


def nigiri_run(
    snap: Snapshot, queries: list[BenchQuery]
) -> tuple[float, list[float], list[int | None]] | None:
    """Load the feed into pynigiri and run the queries; None when it is not installed."""
    try:
        import pynigiri as ng
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        config = ng.LoaderConfig()
        config.link_stop_distance = 0  # footpaths come from transfers.txt, i.e. ours
        source = [
            ng.TimetableSource("vilnius", str(feed_with_our_footpaths(snap, Path(folder))), config)
        ]
        first, last = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=2)
        load_s, timetable = timed(
            lambda: ng.load_timetable(source, first.isoformat(), last.isoformat())
        )
    times: list[float] = []
    arrivals: list[int | None] = []
    for q in queries:
        query = ng.Query()
        query.start_time = int(q.depart_at.timestamp()) // 60
        query.start = [ng.Offset(timetable.find_location(original_id(q.origin)), 0, 0)]
        query.destination = [ng.Offset(timetable.find_location(original_id(q.destination)), 0, 0)]
        query.max_transfers = MAX_TRANSFERS
        query.use_start_footpaths = True
        elapsed, journeys = timed(partial(ng.route, timetable, query))
        times.append(elapsed)
        arrivals.append(min((j.arrival_time() * 60 for j in journeys), default=None))
    return load_s, times, arrivals


def agreement(ours: list[int | None], theirs: list[int | None]) -> tuple[int, int, int]:
    """Return (same minute, ours earlier, ours later); our seconds round up as nigiri counts."""
    same = earlier = later = 0
    for a, b in zip(ours, theirs, strict=True):
        if a is None or b is None:
            continue
        minute = -(-a // 60) * 60
        same += minute == b
        earlier += minute < b
        later += minute > b
    return same, earlier, later


def report_ours(planner: Planner, queries: list[BenchQuery]) -> list[tuple[float, int | None]]:
    """Print our stop-to-stop and range latencies; return (seconds, arrival) per query."""
    runs = [earliest_arrival_s(planner, q) for q in queries]
    ours = [t for t, _ in runs]
    p50, p95 = percentile_ms(ours, 50), percentile_ms(ours, 95)
    print(f"stop-to-stop, {len(queries)} queries: median {p50:.2f} ms, p95 {p95:.2f} ms")
    ranged = [earliest_arrival_s(planner, q, 3600)[0] for q in queries[:RANGE_QUERIES]]
    p50, p95 = percentile_ms(ranged, 50), percentile_ms(ranged, 95)
    print(f"60-minute range, {len(ranged)} queries: median {p50:.1f} ms, p95 {p95:.1f} ms")
    return runs


def report_nigiri(
    snap: Snapshot, queries: list[BenchQuery], runs: list[tuple[float, int | None]]
) -> None:
    """Print pynigiri's figures on the same queries, the ratios and the agreement."""
    nigiri = nigiri_run(snap, queries)
    if nigiri is None:
        print("pynigiri not installed: pip install -e '.[bench]'")
        return
    load_s, theirs, arrivals = nigiri
    ours = [t for t, _ in runs]
    print(f"pynigiri load (same feed, our footpaths as transfers.txt): {load_s * 1000:.0f} ms")
    p50, p95 = percentile_ms(theirs, 50), percentile_ms(theirs, 95)
    print(f"pynigiri stop-to-stop: median {p50:.2f} ms, p95 {p95:.2f} ms")
    ratio_p50 = statistics.median(ours) / statistics.median(theirs)
    ratio_p95 = percentile_ms(ours, 95) / p95
    print(f"ratio ours/pynigiri: median {ratio_p50:.2f}, p95 {ratio_p95:.2f}")
    same, earlier, later = agreement([a for _, a in runs], arrivals)
    share = 100 * same / len(queries)
    print(f"same earliest arrival (minute): {same}/{len(queries)} ({share:.0f} %)")
    print(f"  ours earlier {earlier}, ours later {later}, nigiri found none {arrivals.count(None)}")


def report_coordinates(planner: Planner, queries: list[BenchQuery]) -> None:
    """Print in-process latency of the same queries given as the stops' coordinates."""
    times = []
    for q in queries:
        a, b = query_coordinates(planner.snapshot, q)
        query = JourneyQuery(a, b, depart_at=q.depart_at, max_transfers=MAX_TRANSFERS)
        times.append(timed(partial(planner.plan, query))[0])
    p50, p95 = percentile_ms(times, 50), percentile_ms(times, 95)
    print(
        f"coordinates (600 m access and egress), in process: median {p50:.2f} ms, p95 {p95:.2f} ms"
    )


def import_feed(url: str) -> None:
    """Create the operator and import the feed into a database with the `maas` CLI."""
    maas = str(Path(sys.executable).with_name("maas"))
    env = os.environ | {"MAAS_DATABASE_URL": url, "MAAS_LOG_LEVEL": "WARNING"}
    for command in (
        [maas, "operators", "create", "--id", "vilnius", "--name", "Vilnius"],
        [maas, "import-gtfs", "--operator", "vilnius", str(FEED)],
    ):
        subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603


async def http_latencies(
    snap: Snapshot, queries: list[BenchQuery]
) -> tuple[float, list[tuple[float, int]]]:
    """Serve the feed from a scratch database; return (import seconds, (seconds, journeys)s)."""
    async with scratch_database() as url:
        import_s, _ = timed(lambda: import_feed(url))
        async with running_gateway(url) as base:
            await wait_ready(base, timetable=True, timeout_s=600)
            async with aiohttp.ClientSession() as session:
                for q in queries[:20]:  # warm-up: the date's day view, connections
                    await journeys_request(session, base, snap, q)
                answers = [await journeys_request(session, base, snap, q) for q in queries]
    return import_s, answers


async def journeys_request(
    session: aiohttp.ClientSession, base: str, snap: Snapshot, q: BenchQuery
) -> tuple[float, int]:
    """Time one `GET /v1/journeys` between the stops' coordinates; return (seconds, journeys)."""
    a, b = query_coordinates(snap, q)
    params = {
        "from": f"{a.lat},{a.lon}",
        "to": f"{b.lat},{b.lon}",
        "depart_at": q.depart_at.isoformat(),
        "max_transfers": str(MAX_TRANSFERS),
    }
    started = time.perf_counter()
    async with session.get(f"{base}/v1/journeys", params=params) as resp:
        body = await resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 200:
            raise RuntimeError(f"/v1/journeys answered {resp.status}: {body[:300]!r}")
    return elapsed, len(json.loads(body)["items"])


def report_http(snap: Snapshot, queries: list[BenchQuery]) -> None:
    """Print the HTTP latency of `/v1/journeys` with coordinates on a gateway of its own."""
    import_s, answers = asyncio.run(http_latencies(snap, queries))
    print(f"maas operators create + import-gtfs vilnius.zip: {import_s:.1f} s")
    times = [t for t, _ in answers]
    p50, p95 = percentile_ms(times, 50), percentile_ms(times, 95)
    print(
        f"HTTP GET /v1/journeys, coordinates, JSON, {len(times)} requests one at a time:"
        f" median {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    found = sum(n > 0 for _, n in answers)
    print(f"  answers with a journey: {found}/{len(answers)} (at most 5 journeys each, no offers)")


def main() -> None:
    """Print every figure."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    snap, build_s, peak_mb = build_figures(FEED)
    print(f"snapshot build: {build_s * 1000:.0f} ms, peak {peak_mb:.0f} MB (tracemalloc)")
    planner = Planner(snap)
    view_s, _ = timed(lambda: planner.day_view(DAY))
    print(f"day view of {DAY} (once per date, cached): {view_s * 1000:.0f} ms")
    queries = reachable_queries(planner, PAIRS)
    runs = report_ours(planner, queries)
    report_nigiri(snap, queries, runs)
    report_coordinates(planner, queries)
    report_http(snap, queries)


if __name__ == "__main__":
    main()
