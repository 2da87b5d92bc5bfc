"""The journeys' JSON written straight from the dataclasses is the documented model's own dump."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import orjson

from gateway.handlers.journeys import ItineraryOut
from gateway.handlers.journeys_json import itinerary_json
from journeys.itinerary import Itinerary
from journeys.planner import Coordinates, JourneyQuery, Planner
from tests.journeys import feeds
from tests.journeys.conftest import KUOPIO_DAY


def _itineraries() -> list[Itinerary]:
    snap = feeds.kuopio_snapshot()
    planner = Planner(snap)
    when = dt.datetime.combine(KUOPIO_DAY, dt.time(8), ZoneInfo(snap.timezone))
    served = [snap.stops.ids[s] for s in sorted(set(snap.trips.stop.tolist()))]
    out: list[Itinerary] = []
    for a, b in zip(served[::97], served[13::89], strict=False):
        out += planner.plan(JourneyQuery(a, b, depart_at=when, window_s=1800))
        i = snap.stops.index[b]
        near = Coordinates(float(snap.stops.lat[i]) + 0.001, float(snap.stops.lon[i]))
        out += planner.plan(JourneyQuery(a, near, depart_at=when))
        out += planner.plan(JourneyQuery(b, near, depart_at=when))  # walking all the way
    return out


def test_journey_json_equals_the_models_dump() -> None:
    itineraries = _itineraries()
    assert any(not it.transit_legs() for it in itineraries)
    assert sum(len(it.transit_legs()) for it in itineraries) > 20
    for it in itineraries:
        documented = ItineraryOut.model_validate(it, from_attributes=True)
        expected = orjson.loads(orjson.dumps(documented.model_dump(mode="json", exclude_none=True)))
        assert orjson.loads(orjson.dumps(itinerary_json(it))) == expected
