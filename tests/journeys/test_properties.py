"""Invariants of every answer, on random Kuopio queries (hypothesis)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtfs.snapshot.build import Snapshot
from journeys.itinerary import Itinerary, TransitLeg, WalkLeg
from journeys.planner import JourneyQuery, Planner
from tests.journeys.conftest import KUOPIO_DAY

queries = st.tuples(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=5 * 60, max_value=23 * 60),
    st.sampled_from([0, 0, 1800, 3600]),
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _query(planner: Planner, raw: tuple[int, int, int, int], arrive: bool = False) -> JourneyQuery:
    """Turn drawn integers into a query between served stops."""
    snap = planner.snapshot
    served = sorted(set(snap.trips.stop.tolist()))
    a, b = served[raw[0] % len(served)], served[raw[1] % len(served)]
    if a == b:
        b = served[(raw[1] + 1) % len(served)]
    when = dt.datetime.combine(
        KUOPIO_DAY, dt.time(raw[2] // 60, raw[2] % 60), ZoneInfo(snap.timezone)
    )
    if arrive:
        return JourneyQuery(snap.stops.ids[a], snap.stops.ids[b], arrive_by=when, window_s=raw[3])
    return JourneyQuery(snap.stops.ids[a], snap.stops.ids[b], depart_at=when, window_s=raw[3])


def _walk_s(snap: Snapshot, a: str | None, b: str | None) -> int:
    """Return the footpath time between two stops (the stop's transfer time when equal)."""
    i, j = snap.stops.index[a or ""], snap.stops.index[b or ""]
    if i == j:
        return int(snap.footpaths.transfer_s[i])
    lo, hi = int(snap.footpaths.ptr[i]), int(snap.footpaths.ptr[i + 1])
    hits = [
        d
        for t, d in zip(
            snap.footpaths.to_stop[lo:hi], snap.footpaths.duration_s[lo:hi], strict=True
        )
        if t == j
    ]
    assert hits, f"no footpath {a} -> {b}"
    return int(hits[0])


def _check_chain(snap: Snapshot, itinerary: Itinerary) -> None:
    """Assert legs follow each other in time and every change leaves enough time to walk."""
    legs = itinerary.legs
    for leg in legs:
        assert leg.departure <= leg.arrival
    for a, b in pairwise(legs):
        assert a.arrival <= b.departure
        # One stop, or two operators' stops of one shared place (a change there, no walk).
        assert a.to_place == b.from_place or (
            a.to_place.place_id is not None and a.to_place.place_id == b.from_place.place_id
        )
    rides = [(i, leg) for i, leg in enumerate(legs) if isinstance(leg, TransitLeg)]
    for (i, a), (j, b) in pairwise(rides):
        if b.stay_seated:
            assert j == i + 1
            assert a.to_place.stop_id == b.from_place.stop_id
            continue
        gap_s = (b.departure - a.arrival).total_seconds()
        assert gap_s >= _walk_s(snap, a.to_place.stop_id, b.from_place.stop_id)
        assert all(isinstance(leg, WalkLeg) for leg in legs[i + 1 : j])


def _dominated(a: Itinerary, b: Itinerary) -> bool:
    """Return whether b is at least as good as a everywhere and better somewhere."""
    no_worse = b.departure >= a.departure and b.arrival <= a.arrival and b.transfers <= a.transfers
    return no_worse and (b.departure, b.arrival, b.transfers) != (
        a.departure,
        a.arrival,
        a.transfers,
    )


@SETTINGS
@given(queries)
def test_depart_at_answers_are_chained_timely_and_pareto_optimal(
    kuopio_planner: Planner, raw: tuple[int, int, int, int]
) -> None:
    query = _query(kuopio_planner, raw)
    found = kuopio_planner.plan(query)
    assert query.depart_at is not None
    for itinerary in found:
        assert all(leg.departure >= query.depart_at for leg in itinerary.legs)
        _check_chain(kuopio_planner.snapshot, itinerary)
        assert itinerary.transfers == max(
            0, sum(not r.stay_seated for r in itinerary.transit_legs()) - 1
        )
    assert not any(_dominated(a, b) for a in found for b in found)


@SETTINGS
@given(queries)
def test_arrive_by_answers_arrive_in_time(
    kuopio_planner: Planner, raw: tuple[int, int, int, int]
) -> None:
    query = _query(kuopio_planner, raw, arrive=True)
    found = kuopio_planner.plan(query)
    assert query.arrive_by is not None
    for itinerary in found:
        assert itinerary.arrival <= query.arrive_by
        _check_chain(kuopio_planner.snapshot, itinerary)
    assert not any(_dominated(a, b) for a in found for b in found)


@settings(max_examples=30, deadline=None)
@given(queries)
def test_range_answers_match_single_departures(
    kuopio_planner: Planner, raw: tuple[int, int, int, int]
) -> None:
    single = replace(_query(kuopio_planner, raw), window_s=0)
    profile = kuopio_planner.plan(replace(single, window_s=3600, limit=1000))
    assert single.depart_at is not None
    window_end = single.depart_at + dt.timedelta(hours=1)
    for itinerary in (i for i in profile if i.departure <= window_end):
        at_departure = kuopio_planner.plan(replace(single, depart_at=itinerary.departure))
        expected = min(i.arrival for i in profile if i.departure >= itinerary.departure)
        best = min(at_departure, key=lambda i: i.arrival)
        assert best.arrival <= expected
        if best.transit_legs():  # walking alone is listed once, from the window's start
            assert best.arrival == expected
