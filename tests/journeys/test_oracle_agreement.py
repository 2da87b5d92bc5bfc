"""RAPTOR agrees with an independent Connection Scan on earliest arrival, on real feeds."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from gtfs.snapshot import Snapshot
from gtfs.tables import GtfsTables
from journeys.planner import JourneyQuery, Planner
from tests.journeys.conftest import KUOPIO_DAY, VILNIUS_DAY
from tests.journeys.oracle import INFINITY, ConnectionScan, day_start


def _served_stops(snap: Snapshot) -> list[str]:
    """Return the ids of stops some trip calls at."""
    return [snap.stops.ids[i] for i in sorted(set(snap.trips.stop.tolist()))]


def _disagreements(
    tables: GtfsTables, planner: Planner, day: dt.date, queries: int, seed: int
) -> tuple[list[str], int]:
    """Run random queries through both; return (disagreements, queries with a journey)."""
    snap = planner.snapshot
    oracle = ConnectionScan(tables, snap, day)
    tz = ZoneInfo(snap.timezone)
    base = day_start(day, snap.timezone)
    stops = _served_stops(snap)
    rng = random.Random(seed)
    wrong: list[str] = []
    reachable = 0
    for _ in range(queries):
        a, b = rng.sample(stops, 2)
        when = dt.datetime.combine(day, dt.time(rng.randint(4, 23), rng.randint(0, 59)), tzinfo=tz)
        expected = oracle.earliest_arrival(a, b, int(when.timestamp()) - base)
        found = planner.plan(JourneyQuery(a, b, depart_at=when, max_transfers=8))
        got = min((int(i.arrival.timestamp()) - base for i in found), default=INFINITY)
        reachable += expected < INFINITY
        if got != expected:
            wrong.append(f"{a} -> {b} at {when:%H:%M}: oracle {expected}, raptor {got}")
    return wrong, reachable


def test_earliest_arrival_matches_connection_scan_on_kuopio_operators(
    kuopio_tables: GtfsTables, kuopio_planner: Planner
) -> None:
    wrong, reachable = _disagreements(kuopio_tables, kuopio_planner, KUOPIO_DAY, 250, seed=11)
    assert wrong == []
    assert reachable > 200


@pytest.mark.slow
def test_earliest_arrival_matches_connection_scan_on_vilnius(
    vilnius_tables: GtfsTables, vilnius_planner: Planner
) -> None:
    wrong, reachable = _disagreements(vilnius_tables, vilnius_planner, VILNIUS_DAY, 120, seed=5)
    assert wrong == []
    assert reachable > 100
