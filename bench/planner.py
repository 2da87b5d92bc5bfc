"""Benchmark: our journey planner next to pynigiri (C++ nigiri, behind MOTIS), on any feeds.

For each feed given on the command line (default `../shared/data/gtfs/vilnius.zip`
relative to the repository): import it the real way (`prepare_feed`: validate,
read, namespace ids, interpolate blank times), build the snapshot, pick the
feed's busiest weekday, and draw random stop pairs leaving between 07:30 and
08:30 that an independent Connection Scan (`tests/journeys/oracle.py`, same
walking model) can connect. Then, query by query and alternating who goes
first, our `Planner.plan()` (itineraries built as the API returns them) and
pynigiri's `route()` on the same question (bench/nigiri.py). Prints median and
p95 of both and their ratio, agreement of our earliest arrival with the
Connection Scan (100 % expected), pynigiri's differences by cause, and the
60-minute range query. With `--http`, also imports the feed with
`maas import-gtfs` (its peak RSS) into a scratch database, serves it with
`maas serve` and times `GET /v1/journeys` interleaved with the same queries in
process. Never asserts a time.

Run: .venv/bin/python bench/planner.py [--http] [FEED.zip ...]   (pynigiri: the `bench` extra)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the Connection Scan lives with the tests that use it

from http_bench import report_http  # noqa: E402
from nigiri import Nigiri, minutes_up  # noqa: E402
from support import percentile_ms  # noqa: E402

from gtfs.feed.prepare import prepare_feed  # noqa: E402
from gtfs.feed.validate.issues import FeedInvalid  # noqa: E402
from gtfs.snapshot.build import Snapshot, build_snapshot  # noqa: E402
from journeys.planner import JourneyQuery, Planner  # noqa: E402
from journeys.reconstruct import warm_up  # noqa: E402
from journeys.walking import from_stops  # noqa: E402
from tests.journeys.oracle import INFINITY, ConnectionScan, Walks, day_start  # noqa: E402

DEFAULT_FEED = ROOT.parent / "shared" / "data" / "gtfs" / "vilnius.zip"
MAX_TRANSFERS = 6


@dataclass(frozen=True, slots=True)
class BenchQuery:
    """One stop-to-stop query: namespaced stop ids, departure epoch second, oracle's arrival."""

    origin: str
    destination: str
    depart_epoch_s: int
    expected_s: int


@dataclass(slots=True)
class Run:
    """Per query: our and nigiri's seconds taken and earliest arrivals (epoch s or None)."""

    ours_s: list[float]
    theirs_s: list[float]
    ours: list[int | None]
    theirs: list[int | None]


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Return (elapsed seconds, result) of a call."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def busiest_weekday(snap: Snapshot) -> dt.date:
    """Return the Tuesday-to-Thursday of the service period with the most trips running."""
    running = snap.service_active[np.maximum(snap.trips.service, 0)].sum(axis=0)
    days = [dt.date.fromordinal(snap.first_day + i) for i in range(len(running))]
    midweek = [i for i, d in enumerate(days) if d.weekday() in (1, 2, 3)] or list(range(len(days)))
    return days[max(midweek, key=lambda i: (int(running[i]), -i))]


def draw_queries(
    snap: Snapshot, oracle: ConnectionScan, day: dt.date, n: int, seed: int
) -> list[BenchQuery]:
    """Return up to n random stop pairs, leaving 07:30-08:30, that the Connection Scan connects."""
    rng = random.Random(seed)
    served = sorted({snap.stops.ids[s] for s in snap.trips.stop.tolist()})
    tz = ZoneInfo(snap.timezone)
    base = day_start(day, snap.timezone)
    out: list[BenchQuery] = []
    for _ in range(20 * n):
        if len(out) == n or len(served) < 2:
            break
        a, b = rng.sample(served, 2)
        when = dt.datetime.combine(day, dt.time(7, 30), tz) + dt.timedelta(
            minutes=rng.randrange(60)
        )
        epoch = int(when.timestamp())
        expected = oracle.earliest_arrival(a, b, epoch - base)
        if expected < INFINITY:
            out.append(BenchQuery(a, b, epoch, base + expected))
    return out


def our_query(snap: Snapshot, q: BenchQuery, window_s: int = 0, limit: int = 10) -> JourneyQuery:
    """Return our planner's query for a bench query (the Connection Scan's walk limits)."""
    when = dt.datetime.fromtimestamp(q.depart_epoch_s, ZoneInfo(snap.timezone))
    walks = Walks()
    return JourneyQuery(
        q.origin,
        q.destination,
        depart_at=when,
        window_s=window_s,
        max_transfers=MAX_TRANSFERS,
        limit=limit,
        max_walk_start_s=walks.start_s,
        max_walk_end_s=walks.end_s,
        max_walk_transfer_s=walks.transfer_s,
    )


def stretched(planner: Planner, queries: list[BenchQuery]) -> tuple[int, float]:
    """Return how many queries on the default walks arrive sooner by walking further, and p95."""
    sooner, seconds = 0, []
    for q in queries:
        query = replace(our_query(planner.snapshot, q), max_walk_start_s=None, max_walk_end_s=None)
        elapsed, found = timed(partial(planner.plan, query))
        seconds.append(elapsed)
        arrival = min((int(j.arrival.timestamp()) for j in found), default=None)
        sooner += arrival is not None and arrival < q.expected_s
    return sooner, percentile_ms(seconds, 95)


def range_seconds(planner: Planner, q: BenchQuery) -> float:
    """Return how long a 60-minute range query from the bench query's departure takes."""
    query = our_query(planner.snapshot, q, 3600)
    return timed(lambda: planner.plan(query))[0]


def interleaved(planner: Planner, nigiri: Nigiri, queries: list[BenchQuery]) -> Run:
    """Time ours and nigiri's on each query, alternating which goes first."""
    snap, walks = planner.snapshot, Walks()
    run = Run([], [], [], [])
    for i, q in enumerate(queries):
        ours_q = our_query(snap, q)
        a, b = snap.stops.index[q.origin], snap.stops.index[q.destination]
        copies_a, copies_b = snap.places.same_place(a), snap.places.same_place(b)
        start = from_stops(snap.footpaths, copies_a.astype(np.int64), walks.start_s, True)
        end = from_stops(snap.footpaths, copies_b.astype(np.int64), walks.end_s, False)
        theirs_q = nigiri.query(start, end, q.depart_epoch_s, MAX_TRANSFERS)

        def ours(query: JourneyQuery = ours_q) -> None:
            elapsed, found = timed(lambda: planner.plan(query))
            run.ours_s.append(elapsed)
            run.ours.append(min((int(j.arrival.timestamp()) for j in found), default=None))

        def theirs(query: Any = theirs_q) -> None:
            elapsed, arrival = timed(lambda: nigiri.earliest_arrival(query))
            run.theirs_s.append(elapsed)
            run.theirs.append(arrival)

        for call in (ours, theirs) if i % 2 == 0 else (theirs, ours):
            call()
    return run


def causes(run: Run) -> Counter[str]:
    """Count nigiri's answers by how they differ from ours.

    nigiri keeps times in whole minutes (it drops the seconds of a feed's times, and we
    round our walks up to minutes for it), so an answer within 5 minutes of ours is put
    down to minute rounding; one earlier by more to the walking model (it chains our
    footpaths into walks longer than the limit); none: no answer.
    """
    out: Counter[str] = Counter()
    for ours, theirs in zip(run.ours, run.theirs, strict=True):
        if theirs is None:
            out["no answer"] += 1
        elif ours is None or theirs <= ours - 5 * 60:
            out["walking model (nigiri earlier by 5 min or more)"] += 1
        elif ours // 60 * 60 <= theirs <= 60 * minutes_up(ours):
            out["same minute"] += 1
        elif abs(theirs - ours) < 5 * 60:
            out["minute rounding (within 5 min)"] += 1
        else:
            out["other (nigiri later by 5 min or more)"] += 1
    return out


def report_feed(path: Path, args: argparse.Namespace) -> None:
    """Import one feed, then print every figure for it."""
    operator = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    import_s, prepared = timed(lambda: prepare_feed(path, operator))
    build_s, snap = timed(lambda: build_snapshot(prepared.tables))
    planner, day = Planner(snap), busiest_weekday(snap)
    view_s, _ = timed(lambda: planner.day_view(day))
    print(f"\n== {path.name}: {len(snap.stops.ids)} stops, {len(snap.trips.ids)} trips, {day}")
    print(
        f"prepare_feed {import_s:.2f} s, snapshot {build_s * 1000:.0f} ms,"
        f" day view {view_s * 1000:.0f} ms"
    )
    oracle = ConnectionScan(prepared.tables, snap, day)
    queries = draw_queries(snap, oracle, day, args.pairs, args.seed)
    if not queries:
        print("no connected stop pairs in the morning: skipped")
        return
    nigiri = Nigiri(prepared.tables, snap, day, Walks().transfer_s)
    warm_up()  # the compiled kernels, as a gateway loads them when it swaps a timetable in
    for q in queries[:10]:  # warm-up of both
        planner.plan(our_query(snap, q))
    # The Connection Scan holds millions of Python objects: without this, a full garbage
    # collection over them lands in whichever timed call happens to allocate.
    gc.collect()
    gc.freeze()
    run = interleaved(planner, nigiri, queries)
    print_run(run, queries)
    sooner, p95 = stretched(planner, queries)
    n = len(queries)
    print(f"default walks: {sooner}/{n} arrive sooner by a longer walk; p95 {p95:.2f} ms")
    ranged = [range_seconds(planner, q) for q in queries[: args.range]]
    print(
        f"60-minute range, {len(ranged)} queries: median {percentile_ms(ranged, 50):.1f} ms,"
        f" p95 {percentile_ms(ranged, 95):.1f} ms"
    )
    if args.http:
        report_http(
            path, operator, planner, [(q.origin, q.destination, q.depart_epoch_s) for q in queries]
        )


def print_run(run: Run, queries: list[BenchQuery]) -> None:
    """Print latencies, ratios, agreement with the Connection Scan and nigiri's differences."""
    n = len(queries)
    o50, o95 = percentile_ms(run.ours_s, 50), percentile_ms(run.ours_s, 95)
    t50, t95 = percentile_ms(run.theirs_s, 50), percentile_ms(run.theirs_s, 95)
    print(
        f"{n} queries, interleaved: ours median {o50:.2f} ms, p95 {o95:.2f} ms;"
        f" pynigiri median {t50:.2f} ms, p95 {t95:.2f} ms"
    )
    print(f"ratio ours/pynigiri: median {o50 / t50:.2f}, p95 {o95 / t95:.2f}")
    right = sum(a == q.expected_s for a, q in zip(run.ours, queries, strict=True))
    print(f"ours = Connection Scan (to the second): {right}/{n}")
    for a, q in zip(run.ours, queries, strict=True):
        if a != q.expected_s:
            print(
                f"  differs: {q.origin} -> {q.destination} at {q.depart_epoch_s}:"
                f" ours {a}, scan {q.expected_s}"
            )
    for cause, count in sorted(causes(run).items()):
        print(f"  pynigiri {cause}: {count}")


def main() -> None:
    """Print every figure for every feed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("feeds", nargs="*", type=Path, default=[DEFAULT_FEED])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--range", type=int, default=100, help="range queries per feed")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--http", action="store_true", help="also time GET /v1/journeys")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    print(f"machine: {machine}, load {load:.1f}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    for path in args.feeds:
        try:
            report_feed(path, args)
        except FeedInvalid as exc:
            print(f"\n== {path.name}: not a valid feed ({exc.total} errors): skipped")


if __name__ == "__main__":
    main()
