"""RAPTOR agrees with an independent Connection Scan on earliest arrival, on real feeds."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gtfs.realtime.overlay import RealtimeOverlay, TripRealtime
from gtfs.snapshot.build import Snapshot
from gtfs.tables import GtfsTables
from journeys.planner import JourneyQuery, Planner
from tests.journeys.conftest import KUOPIO_DAY, VILNIUS_DAY
from tests.journeys.oracle import INFINITY, ConnectionScan, Walks, day_start


def _served_stops(snap: Snapshot) -> list[str]:
    """Return the ids of stops some trip calls at."""
    return [snap.stops.ids[i] for i in sorted(set(snap.trips.stop.tolist()))]


def _disagreements(
    tables: GtfsTables,
    planner: Planner,
    day: dt.date,
    queries: int,
    seed: int,
    overlay: RealtimeOverlay | None = None,
    wheelchair: bool = False,
    random_walks: bool = False,
) -> tuple[list[str], int]:
    """Run random queries through both; return (disagreements, queries with a journey).

    With `random_walks` each query has limits on its walks drawn at random (up to 30
    minutes at the ends, 20 between vehicles), otherwise the defaults.
    """
    snap = planner.snapshot
    oracle = ConnectionScan(tables, snap, day, overlay, wheelchair)
    tz = ZoneInfo(snap.timezone)
    base = day_start(day, snap.timezone)
    stops = _served_stops(snap)
    rng = random.Random(seed)
    wrong: list[str] = []
    reachable = 0
    for _ in range(queries):
        a, b = rng.sample(stops, 2)
        when = dt.datetime.combine(day, dt.time(rng.randint(4, 23), rng.randint(0, 59)), tzinfo=tz)
        walks = Walks()
        if random_walks:
            walks = Walks(60 * rng.randint(0, 30), 60 * rng.randint(0, 30), 60 * rng.randint(0, 20))
        expected = oracle.earliest_arrival(a, b, int(when.timestamp()) - base, walks)
        query = JourneyQuery(
            a,
            b,
            depart_at=when,
            max_transfers=8,
            wheelchair=wheelchair,
            max_walk_start_s=walks.start_s,
            max_walk_end_s=walks.end_s,
            max_walk_transfer_s=walks.transfer_s,
        )
        found = planner.plan(query, overlay)
        got = min((int(i.arrival.timestamp()) - base for i in found), default=INFINITY)
        reachable += expected < INFINITY
        if got != expected:
            wrong.append(f"{a} -> {b} at {when:%H:%M} {walks}: oracle {expected}, raptor {got}")
    return wrong, reachable


def test_earliest_arrival_matches_connection_scan_on_kuopio_operators(
    kuopio_tables: GtfsTables, kuopio_planner: Planner
) -> None:
    wrong, reachable = _disagreements(kuopio_tables, kuopio_planner, KUOPIO_DAY, 250, seed=11)
    assert wrong == []
    assert reachable > 200


def test_earliest_arrival_within_any_walking_limits_matches_connection_scan_on_kuopio(
    kuopio_tables: GtfsTables, kuopio_planner: Planner
) -> None:
    wrong, reachable = _disagreements(
        kuopio_tables, kuopio_planner, KUOPIO_DAY, 200, seed=13, random_walks=True
    )
    assert wrong == []
    assert reachable > 150


def _arrivals(
    planner: Planner, day: dt.date, queries: int, seed: int, overlay: RealtimeOverlay | None
) -> list[dt.datetime | None]:
    """Return the earliest arrival of the same random queries as `_disagreements`."""
    snap = planner.snapshot
    tz, stops, rng = ZoneInfo(snap.timezone), _served_stops(snap), random.Random(seed)
    out: list[dt.datetime | None] = []
    for _ in range(queries):
        a, b = rng.sample(stops, 2)
        when = dt.datetime.combine(day, dt.time(rng.randint(4, 23), rng.randint(0, 59)), tzinfo=tz)
        found = planner.plan(JourneyQuery(a, b, depart_at=when, max_transfers=8), overlay)
        out.append(min((i.arrival for i in found), default=None))
    return out


def _random_overlay(planner: Planner, day: dt.date, seed: int) -> dict[str, TripRealtime]:
    """Delay, cancel or make skip a stop a hundred trips of the day, at random."""
    snap, rng = planner.snapshot, random.Random(seed)
    view = planner.day_view(day)
    running = sorted(set(view.row_trip[view.row_trip >= 0].tolist()))
    overlay: dict[str, TripRealtime] = {}
    for trip in rng.sample(running, 100):
        lo, hi = int(snap.trips.time_ptr[trip]), int(snap.trips.time_ptr[trip + 1])
        delay_s = np.cumsum([rng.choice([0, 0, 30, 60, 120]) for _ in range(hi - lo)])
        skipped = np.zeros(hi - lo, dtype=np.bool_)
        if rng.random() < 0.2:
            skipped[rng.randrange(hi - lo)] = True
        overlay[snap.trips.ids[trip]] = TripRealtime(
            (snap.trips.arrival_s[lo:hi] + delay_s).astype(np.int32),
            (snap.trips.departure_s[lo:hi] + delay_s).astype(np.int32),
            skipped,
            cancelled=rng.random() < 0.1,
        )
    return overlay


def test_earliest_arrival_with_realtime_matches_connection_scan_on_kuopio(
    kuopio_tables: GtfsTables, kuopio_planner: Planner
) -> None:
    overlay = _random_overlay(kuopio_planner, KUOPIO_DAY, seed=3)
    wrong, reachable = _disagreements(
        kuopio_tables, kuopio_planner, KUOPIO_DAY, 150, seed=12, overlay=overlay
    )
    assert wrong == []
    assert reachable > 120
    # The overlay must have changed some of these answers, or the test proves little.
    with_rt = _arrivals(kuopio_planner, KUOPIO_DAY, 150, 12, overlay)
    scheduled = _arrivals(kuopio_planner, KUOPIO_DAY, 150, 12, None)
    assert sum(a != b for a, b in zip(with_rt, scheduled, strict=True)) > 5


@pytest.mark.slow
def test_earliest_arrival_matches_connection_scan_on_vilnius(
    vilnius_tables: GtfsTables, vilnius_planner: Planner
) -> None:
    wrong, reachable = _disagreements(vilnius_tables, vilnius_planner, VILNIUS_DAY, 120, seed=5)
    assert wrong == []
    assert reachable > 100


@pytest.mark.slow
def test_earliest_arrival_within_any_walking_limits_matches_connection_scan_on_vilnius(
    vilnius_tables: GtfsTables, vilnius_planner: Planner
) -> None:
    wrong, reachable = _disagreements(
        vilnius_tables, vilnius_planner, VILNIUS_DAY, 100, seed=8, random_walks=True
    )
    assert wrong == []
    assert reachable > 80


@pytest.mark.slow
def test_accessible_earliest_arrival_matches_connection_scan_on_vilnius(
    vilnius_tables: GtfsTables, vilnius_planner: Planner
) -> None:
    wrong, reachable = _disagreements(
        vilnius_tables, vilnius_planner, VILNIUS_DAY, 60, seed=6, wheelchair=True
    )
    assert wrong == []
    assert reachable > 30
