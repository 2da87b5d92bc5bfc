"""Rides sliced from what their pattern shares: stops, calls and the line along the shape."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.snapshot.footpaths import haversine_m
from journeys.itinerary import TransitLeg
from journeys.planner import JourneyQuery, Planner
from tests.journeys.conftest import VILNIUS_DAY


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_m(*(np.asarray([x]) for x in (*a, *b)))[0])


def _vilnius_legs(planner: Planner, n: int) -> list[TransitLeg]:
    snap = planner.snapshot
    rng = random.Random(4)
    served = sorted({snap.stops.ids[s] for s in snap.trips.stop.tolist()})
    when = dt.datetime.combine(VILNIUS_DAY, dt.time(8), ZoneInfo(snap.timezone))
    legs: list[TransitLeg] = []
    while len(legs) < n:
        a, b = rng.sample(served, 2)
        for itinerary in planner.plan(JourneyQuery(a, b, depart_at=when)):
            legs += itinerary.transit_legs()
    return legs


def test_a_rides_line_is_a_stretch_of_its_trips_shape_from_stop_to_stop(
    vilnius_planner: Planner,
) -> None:
    snap = vilnius_planner.snapshot
    for leg in _vilnius_legs(vilnius_planner, 60):
        trip = snap.trips.index[leg.trip_id]
        shape = int(snap.trips.shape[trip])
        assert shape >= 0
        lo, hi = int(snap.shapes.ptr[shape]), int(snap.shapes.ptr[shape + 1])
        points = list(
            zip(snap.shapes.lat[lo:hi].tolist(), snap.shapes.lon[lo:hi].tolist(), strict=True)
        )
        start = points.index(leg.geometry[0])
        assert list(leg.geometry) == points[start : start + len(leg.geometry)]
        board = (leg.from_place.lat, leg.from_place.lon)
        alight = (leg.to_place.lat, leg.to_place.lon)
        assert _distance_m(leg.geometry[0], board) < 150
        assert _distance_m(leg.geometry[-1], alight) < 150


def test_a_rides_calls_are_its_trips_stops_between_boarding_and_alighting(
    vilnius_planner: Planner,
) -> None:
    snap = vilnius_planner.snapshot
    for leg in _vilnius_legs(vilnius_planner, 60):
        trip = snap.trips.index[leg.trip_id]
        lo, hi = int(snap.trips.time_ptr[trip]), int(snap.trips.time_ptr[trip + 1])
        stops = [snap.stops.ids[s] for s in snap.trips.stop[lo:hi].tolist()]
        first = stops.index(leg.from_place.stop_id or "")
        ridden = [leg.from_place] + [c.stop for c in leg.intermediate_stops] + [leg.to_place]
        assert [p.stop_id for p in ridden] == stops[first : first + len(ridden)]
        times = [leg.departure] + [
            t for c in leg.intermediate_stops for t in (c.arrival, c.departure)
        ]
        assert times == sorted(times)
        assert all(t <= leg.arrival for t in times)
