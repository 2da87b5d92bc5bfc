"""Walking in journeys: limits at the ends and between vehicles, walking all the way."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from gtfs.snapshot.build import build_snapshot
from journeys.errors import InvalidQueryError, OutsideNetworkError
from journeys.itinerary import TransitLeg, WalkLeg
from journeys.planner import Coordinates, JourneyQuery, Planner
from journeys.walking import from_stops
from tests.journeys.conftest import VILNIUS_DAY
from tests.journeys.synthetic import STOPS, Trip, network
from tests.journeys.test_planner import FAST, at, planner_for, rides

#: C to C2 is 100.1 m: 101 s on foot (1.3 detour at 1.3 m/s).
TO_E_FROM_C2 = Trip("c2", (("C2", "08:14"), ("E", "08:30")))


def test_a_walk_between_vehicles_longer_than_the_limit_is_not_taken() -> None:
    planner = planner_for(FAST, TO_E_FROM_C2)
    query = JourneyQuery("t:A", "t:E", depart_at=at("07:55"))
    assert rides(planner.plan(query)) == ["fast", "c2"]
    assert planner.plan(replace(query, max_walk_transfer_s=100)) == []
    assert rides(planner.plan(replace(query, max_walk_transfer_s=101))) == ["fast", "c2"]


def test_a_walk_to_the_first_vehicle_longer_than_the_limit_is_not_taken() -> None:
    planner = planner_for(TO_E_FROM_C2)
    query = JourneyQuery("t:C", "t:E", depart_at=at("08:00"))
    (only,) = planner.plan(query)
    assert isinstance(only.legs[0], WalkLeg)
    assert only.legs[0].duration_s == 101
    assert planner.plan(replace(query, max_walk_start_s=100)) == []


def test_a_walk_from_the_last_vehicle_longer_than_the_limit_is_not_taken() -> None:
    planner = planner_for(FAST)
    query = JourneyQuery("t:A", "t:C2", depart_at=at("07:55"))
    (only,) = planner.plan(query)
    assert isinstance(only.legs[-1], WalkLeg)
    assert only.arrival == at("08:10") + dt.timedelta(seconds=101)
    assert planner.plan(replace(query, max_walk_end_s=100)) == []


def test_walking_all_the_way_between_stops_is_offered() -> None:
    found = planner_for(FAST).plan(JourneyQuery("t:C", "t:C2", depart_at=at("09:00")))
    (leg,) = found[0].legs
    assert isinstance(leg, WalkLeg)
    assert (leg.departure, leg.duration_s) == (at("09:00"), 101)
    assert len(found) == 1


def test_a_ride_slower_than_walking_all_the_way_is_not_offered() -> None:
    slow = Trip("slow", (("C", "08:00"), ("C2", "08:05")))
    found = planner_for(slow).plan(JourneyQuery("t:C", "t:C2", depart_at=at("07:59")))
    assert [[leg.mode for leg in i.legs] for i in found] == [["walk"]]


def test_arrive_by_walking_all_the_way_leaves_as_late_as_it_can() -> None:
    found = planner_for(FAST).plan(JourneyQuery("t:C", "t:C2", arrive_by=at("09:00")))
    (leg,) = found[0].legs
    assert isinstance(leg, WalkLeg)
    assert (leg.departure, leg.arrival) == (at("09:00") - dt.timedelta(seconds=101), at("09:00"))


def test_a_coordinate_farther_than_the_walk_limit_from_every_stop_is_outside_the_network() -> None:
    lat, lon = STOPS["A"]
    query = JourneyQuery(Coordinates(lat + 0.002, lon), "t:C", depart_at=at("07:50"))
    assert planner_for(FAST).plan(query)  # 222 m: 223 s
    with pytest.raises(OutsideNetworkError):
        planner_for(FAST).plan(replace(query, max_walk_start_s=200))


def test_walk_limits_beyond_the_snapshot_footpaths_are_refused() -> None:
    query = JourneyQuery("t:A", "t:C", depart_at=at("08:00"), max_walk_end_s=31 * 60)
    with pytest.raises(InvalidQueryError, match="30 minutes"):
        planner_for(FAST).plan(query)


def test_vilnius_a_walk_within_the_limit_beats_waiting_hours_for_the_last_bus(
    vilnius_planner: Planner,
) -> None:
    # The last ride ends at 8784 at 08:30, 1,001 m over the footpaths (16 min 41 s)
    # from the destination; the next vehicle there leaves 7189 at 15:50. nigiri walks.
    tz = ZoneInfo(vilnius_planner.snapshot.timezone)
    when = dt.datetime.combine(VILNIUS_DAY, dt.time(7, 31), tz)
    query = JourneyQuery("vilnius:7023", "vilnius:9310", depart_at=when, max_transfers=6)
    (walking,) = vilnius_planner.plan(replace(query, max_walk_end_s=17 * 60))
    last = walking.legs[-1]
    assert isinstance(last, WalkLeg)
    assert (last.from_place.stop_id, last.duration_s) == ("vilnius:8784", 1001)
    assert walking.arrival == dt.datetime.combine(VILNIUS_DAY, dt.time(8, 46, 41), tz)
    # A limit the traveller sets is kept to: within 15 minutes, the bus it is.
    (riding,) = vilnius_planner.plan(replace(query, max_walk_start_s=900, max_walk_end_s=900))
    assert isinstance(riding.legs[-1], TransitLeg)
    assert riding.arrival == dt.datetime.combine(VILNIUS_DAY, dt.time(15, 53), tz)


def test_vilnius_on_the_default_walks_a_longer_walk_is_offered_rather_than_hours_of_waiting(
    vilnius_planner: Planner,
) -> None:
    tz = ZoneInfo(vilnius_planner.snapshot.timezone)
    when = dt.datetime.combine(VILNIUS_DAY, dt.time(7, 31), tz)
    query = JourneyQuery("vilnius:7023", "vilnius:9310", depart_at=when, max_transfers=6)
    # It leaves no earlier than the 15:53 journey (which waits hours between two buses)
    # and arrives seven hours sooner: that one is dominated.
    (found,) = vilnius_planner.plan(query)
    assert found.arrival == dt.datetime.combine(VILNIUS_DAY, dt.time(8, 46, 41), tz)
    first = found.legs[-1]
    assert isinstance(first, WalkLeg)
    assert (first.from_place.stop_id, first.duration_s) == ("vilnius:8784", 1001)


def test_on_the_default_walks_a_journey_with_little_waiting_is_not_stretched() -> None:
    # A to C by the fast trip at 08:00 waits a minute: no second search, nothing added.
    planner = planner_for(FAST)
    query = JourneyQuery("t:A", "t:C", depart_at=at("07:59"))
    assert rides(planner.plan(query)) == rides(
        planner.plan(replace(query, max_walk_start_s=900, max_walk_end_s=900))
    )


def test_a_pair_named_twice_in_transfers_txt_is_reached_once_by_its_shortest_walk() -> None:
    tables = network([Trip("ok", (("A", "08:00"), ("C", "08:05")))])
    rules = pd.DataFrame(
        {
            "from_stop_id": ["t:C", "t:C"],
            "to_stop_id": ["t:C2", "t:C2"],
            "transfer_type": [2, 2],
            "min_transfer_time": [300, 200],
        }
    )
    fields = {n: getattr(tables, n) for n in tables.table_names()}
    snap = build_snapshot(type(tables)(**{**fields, "transfers": rules}))
    c, c2 = snap.stops.index["t:C"], snap.stops.index["t:C2"]
    reach = from_stops(snap.footpaths, np.asarray([c]), 900, outward=True)
    assert reach.stops.tolist() == [c, c2]
    assert reach.walk_s.tolist() == [0, 200]
    (walking,) = Planner(snap).plan(JourneyQuery("t:C", "t:C2", depart_at=at("09:00")))
    assert walking.legs[0].duration_s == 200


#: Three stops north of C, each 290 m from the one before and more than 400 m (the
#: longest link) from any other: from C to W3 one walks the chain, 870 m.
CHAIN_DEG = 290 / 111_195


def test_a_walk_over_several_links_within_the_limit_beats_hours_of_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lat, lon = STOPS["C"]
    for i in (1, 2, 3):
        monkeypatch.setitem(STOPS, f"W{i}", (lat + i * CHAIN_DEG, lon))
    late = Trip("late", (("C", "10:00"), ("W3", "10:05")))
    planner = planner_for(FAST, late)
    snap = planner.snapshot
    c, w3 = snap.stops.index["t:C"], snap.stops.index["t:W3"]
    assert snap.walking.radius_m < 2 * 290  # no link skips a stop of the chain
    reach = from_stops(snap.footpaths, np.asarray([c]), 900, outward=True)
    (walk_s,) = reach.walk_s[reach.stops == w3]
    assert 3 * 280 <= walk_s <= 900  # three links of 290 m, not one
    query = JourneyQuery("t:A", "t:W3", depart_at=at("07:55"))
    # Within the default 15 minutes: ride to C, walk the chain; the 10:00 bus is not offered.
    (walking,) = planner.plan(query)
    assert rides([walking]) == ["fast"]
    last = walking.legs[-1]
    assert isinstance(last, WalkLeg)
    assert (last.from_place.stop_id, last.duration_s) == ("t:C", walk_s)
    assert walking.arrival == at("08:10") + dt.timedelta(seconds=int(walk_s))
    # A limit the traveller sets below the chain's walk is kept to: the bus it is.
    (waiting,) = planner.plan(replace(query, max_walk_start_s=900, max_walk_end_s=int(walk_s) - 1))
    assert rides([waiting]) == ["fast", "late"]
    assert waiting.arrival == at("10:05")
