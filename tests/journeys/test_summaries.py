"""Journeys are ranked by a summary of their steps: the same answers as built itineraries give."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from journeys import planner as planner_module
from journeys.planner import Coordinates, JourneyQuery, Planner
from journeys.reconstruct import Trace, summarise, to_itinerary, trace_steps
from journeys.search import Found
from tests.journeys.conftest import KUOPIO_DAY


def _built_first(t: Trace, found: Found) -> planner_module._Journey:
    """Build the itinerary at once and rank it by its own times (the former behaviour)."""
    return planner_module._Journey.of(
        to_itinerary(t, trace_steps(t, found.round, found.departure_s))
    )


def _queries(planner: Planner, n: int) -> list[JourneyQuery]:
    """Return range and arrive-by queries, by stop and by coordinates, between served stops."""
    snap = planner.snapshot
    served = sorted(set(snap.trips.stop.tolist()))
    rng = random.Random(5)
    tz = ZoneInfo(snap.timezone)
    out = []
    for i in range(n):
        a, b = rng.sample(served, 2)
        when = dt.datetime.combine(KUOPIO_DAY, dt.time(6), tz) + dt.timedelta(
            minutes=rng.randrange(14 * 60)
        )
        here = Coordinates(float(snap.stops.lat[a]), float(snap.stops.lon[a]))
        origin = here if i % 3 == 0 else snap.stops.ids[a]
        if i % 4 == 1:
            out.append(JourneyQuery(origin, snap.stops.ids[b], arrive_by=when, limit=50))
        else:
            out.append(JourneyQuery(origin, snap.stops.ids[b], depart_at=when, window_s=3600))
    return out


def test_summaries_rank_like_built_itineraries(
    kuopio_planner: Planner, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _queries(kuopio_planner, 45)
    lazy = [kuopio_planner.plan(q) for q in queries]
    monkeypatch.setattr(planner_module, "_journey", _built_first)
    assert [kuopio_planner.plan(q) for q in queries] == lazy
    assert sum(len(found) for found in lazy) > 45


def test_summary_matches_the_itinerary(
    kuopio_planner: Planner, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = 0
    original = planner_module._journey

    def check(t: Trace, found: Found) -> planner_module._Journey:
        nonlocal seen
        steps = trace_steps(t, found.round, found.departure_s)
        built = to_itinerary(t, steps)
        expected = (int(built.departure.timestamp()), int(built.arrival.timestamp()))
        assert summarise(t, steps) == (*expected, built.transfers)
        seen += 1
        return original(t, found)

    monkeypatch.setattr(planner_module, "_journey", check)
    for q in _queries(kuopio_planner, 30):
        kuopio_planner.plan(q)
    assert seen > 30
