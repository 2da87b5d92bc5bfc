"""Planner behaviour on a hand-made network and on Kuopio: queries, errors, realtime, access."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gtfs.realtime.overlay import TripRealtime
from gtfs.snapshot.build import build_snapshot
from journeys import raptor, reconstruct
from journeys.errors import (
    InvalidQueryError,
    OutsideNetworkError,
    OutsideServiceError,
    UnknownStopError,
)
from journeys.itinerary import TransitLeg, WalkLeg
from journeys.planner import Coordinates, JourneyQuery, Planner
from journeys.reconstruct import warm_up
from tests.journeys.conftest import KUOPIO_DAY
from tests.journeys.synthetic import STOPS, TZ, Trip, hms, network

TUESDAY = dt.date(2024, 3, 5)


def at(hhmm: str, day: dt.date = TUESDAY) -> dt.datetime:
    """Return an aware datetime in the synthetic network's zone."""
    midnight = dt.datetime.combine(day, dt.time(0), ZoneInfo(TZ))
    return midnight + dt.timedelta(seconds=hms(hhmm))


def planner_for(*trips: Trip, wheelchair_stops: dict[str, int] | None = None) -> Planner:
    """Return a planner over the synthetic stops and the given trips."""
    return Planner(build_snapshot(network(list(trips), wheelchair_stops)))


FAST = Trip("fast", (("A", "08:00"), ("B", "08:05"), ("C", "08:10")))
SLOW = Trip("slow", (("A", "08:02"), ("B", "08:12"), ("C", "08:22")))
ON_FROM_C = Trip("on", (("C", "08:14"), ("D", "08:20"), ("E", "08:26")))


def rides(found: list, index: int = 0) -> list[str]:  # type: ignore[type-arg]
    """Return the trip ids ridden by the found itinerary at `index`."""
    return [leg.trip_id.split(":")[1] for leg in found[index].legs if isinstance(leg, TransitLeg)]


def test_transfer_needs_the_minimum_transfer_time() -> None:
    planner = planner_for(FAST, SLOW, ON_FROM_C, Trip("late", (("C", "08:40"), ("E", "08:50"))))
    found = planner.plan(JourneyQuery("t:A", "t:E", depart_at=at("07:55")))
    assert rides(found) == ["fast", "on"]
    assert found[0].arrival == at("08:26")
    assert found[0].transfers == 1


def test_direct_trip_with_fewer_transfers_is_kept_beside_a_faster_one() -> None:
    direct = Trip("direct", (("A", "08:03"), ("E", "08:40")))
    found = planner_for(FAST, ON_FROM_C, direct).plan(
        JourneyQuery("t:A", "t:E", depart_at=at("07:55"))
    )
    assert sorted((i.transfers, i.arrival) for i in found) == [(0, at("08:40")), (1, at("08:26"))]


def test_staying_seated_on_a_block_is_not_a_transfer() -> None:
    first = Trip("first", (("A", "08:00"), ("C", "08:10")), block_id="b1")
    second = Trip("second", (("C", "08:10"), ("E", "08:20")), block_id="b1")
    found = planner_for(first, second).plan(JourneyQuery("t:A", "t:E", depart_at=at("07:59")))
    assert rides(found) == ["first", "second"]
    assert found[0].transfers == 0
    assert [leg.stay_seated for leg in found[0].transit_legs()] == [False, True]


def test_footpath_connects_nearby_stops() -> None:
    to_c2 = Trip("c2", (("C2", "08:14"), ("E", "08:30")))
    found = planner_for(FAST, to_c2).plan(JourneyQuery("t:A", "t:E", depart_at=at("07:55")))
    walks = [leg for leg in found[0].legs if isinstance(leg, WalkLeg)]
    assert [(w.from_place.name, w.to_place.name) for w in walks] == [("C", "C2")]
    assert 90 < walks[0].distance_m < 110


def test_trip_after_midnight_belongs_to_the_previous_service_day() -> None:
    night = Trip("night", (("A", "24:30"), ("E", "25:00")))
    found = planner_for(night).plan(JourneyQuery("t:A", "t:E", depart_at=at("00:10", TUESDAY)))
    assert found[0].departure == at("00:30", TUESDAY)  # Monday's run, after midnight


def test_a_delay_applies_to_the_run_of_its_service_date() -> None:
    # At 00:10 on Tuesday, Monday's run of the night trip is still to leave at 00:30;
    # Tuesday's run leaves 24 hours later. A delay names which run it is about.
    night = Trip("night", (("A", "24:30"), ("E", "25:00")))
    late = np.asarray([hms("24:40"), hms("25:10")], dtype=np.int32)
    monday = TUESDAY - dt.timedelta(days=1)

    def arrival(service_date: dt.date | None) -> dt.datetime:
        delayed = {"t:night": TripRealtime(late, late, np.zeros(2, np.bool_), False, service_date)}
        query = JourneyQuery("t:A", "t:E", depart_at=at("00:10", TUESDAY))
        return planner_for(night).plan(query, overlay=delayed)[0].arrival

    assert arrival(monday) == at("01:10", TUESDAY)
    assert arrival(TUESDAY) == at("01:00", TUESDAY)  # Tuesday's run is the one delayed
    assert arrival(None) == at("01:00", TUESDAY)  # no date: the run of the query's own day


def test_calendar_exception_removes_a_day() -> None:
    planner = planner_for(FAST)
    holiday = planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:00", dt.date(2024, 5, 1))))
    assert [i.departure for i in holiday] == [
        at("08:00", dt.date(2024, 5, 2))
    ]  # the next day's run
    workday = planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:00", dt.date(2024, 5, 2))))
    assert [i.departure for i in workday] == [at("08:00", dt.date(2024, 5, 2))]


def test_cancelled_trip_is_never_used() -> None:
    planner = planner_for(FAST, SLOW)
    n = 3
    cancelled = {
        "t:fast": TripRealtime(
            np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, np.bool_), True
        )
    }
    found = planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:55")), overlay=cancelled)
    assert rides(found) == ["slow"]


def test_delay_breaks_a_transfer_and_realtime_times_are_used() -> None:
    planner = planner_for(FAST, ON_FROM_C, Trip("late", (("C", "08:40"), ("E", "08:50"))))
    times = np.asarray([hms("08:00"), hms("08:08"), hms("08:14")], dtype=np.int32)
    late = {"t:fast": TripRealtime(times, times, np.zeros(3, np.bool_))}
    found = planner.plan(JourneyQuery("t:A", "t:E", depart_at=at("07:55")), overlay=late)
    assert rides(found) == ["fast", "late"]
    assert found[0].transit_legs()[0].arrival == at("08:14")
    assert found[0].transit_legs()[0].realtime


def test_skipped_stop_is_neither_boardable_nor_alightable() -> None:
    planner = planner_for(FAST, SLOW)
    times = np.asarray([hms("08:00"), hms("08:05"), hms("08:10")], dtype=np.int32)
    skip_b = {"t:fast": TripRealtime(times, times, np.asarray([False, True, False]))}
    found = planner.plan(JourneyQuery("t:A", "t:B", depart_at=at("07:55")), overlay=skip_b)
    assert rides(found) == ["slow"]


def test_wheelchair_uses_only_accessible_trips_and_stops() -> None:
    planner = planner_for(FAST, SLOW)
    plain = JourneyQuery("t:A", "t:C", depart_at=at("07:55"))
    assert rides(planner.plan(plain)) == ["fast"]
    inaccessible = planner_for(Trip("fast", FAST.calls, wheelchair=2), SLOW)
    assert rides(
        inaccessible.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:55"), wheelchair=True))
    ) == ["slow"]
    no_ramp = planner_for(FAST, SLOW, wheelchair_stops={"C": 2})
    assert no_ramp.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:55"), wheelchair=True)) == []


def test_range_query_returns_each_later_departure_that_still_pays() -> None:
    planner = planner_for(FAST, SLOW, Trip("next", (("A", "08:30"), ("C", "08:40"))))
    found = planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("07:55"), window_s=3600))
    assert [i.departure for i in found] == [at("08:00"), at("08:02"), at("08:30")]


def test_range_query_boards_a_trip_at_each_access_stop_it_passes() -> None:
    # The loop passes C2, then the destination D, then C; both C and C2 are a short walk
    # from the origin. Catching it at C is the later departure, but only C2 leads to D.
    loop = Trip("loop", (("C2", "08:00"), ("D", "08:05"), ("C", "08:10"), ("E", "08:15")))
    later = Trip("later", (("C", "08:30"), ("D", "08:35")))
    (c_lat, lon), (c2_lat, _) = STOPS["C"], STOPS["C2"]
    origin = Coordinates((c_lat + c2_lat) / 2, lon)
    found = planner_for(loop, later).plan(
        JourneyQuery(origin, "t:D", depart_at=at("07:50"), window_s=3600)
    )
    assert [(rides(found, i), found[i].arrival) for i in range(len(found))] == [
        (["loop"], at("08:05")),
        (["later"], at("08:35")),
    ]


def test_arrive_by_returns_the_latest_departure_that_arrives_in_time() -> None:
    planner = planner_for(FAST, SLOW, Trip("next", (("A", "08:30"), ("C", "08:40"))))
    found = planner.plan(JourneyQuery("t:A", "t:C", arrive_by=at("08:25")))
    assert [(i.departure, i.arrival) for i in found] == [(at("08:02"), at("08:22"))]


def test_coordinates_get_walking_access_and_egress() -> None:
    lat, lon = STOPS["A"]
    found = planner_for(FAST).plan(
        JourneyQuery(Coordinates(lat + 0.002, lon), Coordinates(*STOPS["C"]), depart_at=at("07:50"))
    )
    legs = found[0].legs
    assert isinstance(legs[0], WalkLeg)
    assert legs[0].from_place.stop_id is None
    assert legs[0].departure >= at("07:50")
    assert legs[0].arrival == legs[1].departure == at("08:00")  # leaves just in time
    assert isinstance(legs[-1], WalkLeg)
    assert legs[-1].to_place.name == "destination"


def test_errors_are_clear() -> None:
    planner = planner_for(FAST)
    with pytest.raises(UnknownStopError, match="nowhere"):
        planner.plan(JourneyQuery("t:nowhere", "t:C", depart_at=at("08:00")))
    with pytest.raises(OutsideNetworkError):
        planner.plan(JourneyQuery(Coordinates(60.0, 24.0), "t:C", depart_at=at("08:00")))
    with pytest.raises(OutsideServiceError):
        planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("08:00", dt.date(2030, 1, 1))))
    with pytest.raises(InvalidQueryError):
        planner.plan(JourneyQuery("t:A", "t:C", depart_at=dt.datetime(2024, 3, 5, 8)))  # noqa: DTZ001
    with pytest.raises(InvalidQueryError):
        planner.plan(JourneyQuery("t:A", "t:C"))


def test_kuopio_journey_has_operator_route_and_intermediate_stops(kuopio_planner: Planner) -> None:
    snap = kuopio_planner.snapshot
    tz = ZoneInfo(snap.timezone)
    trip = snap.patterns.trips[0]
    lo, hi = int(snap.trips.time_ptr[trip]), int(snap.trips.time_ptr[trip + 1])
    a, b = snap.stops.ids[snap.trips.stop[lo]], snap.stops.ids[snap.trips.stop[hi - 1]]
    when = dt.datetime.combine(KUOPIO_DAY, dt.time(7), tz)
    found = kuopio_planner.plan(JourneyQuery(a, b, depart_at=when, window_s=3 * 3600))
    leg = found[0].transit_legs()[0]
    assert leg.operator_id in {
        "kuopion-liikenne",
        "linja-karjala",
        "jaaskelaisen-auto",
        "e-ahonen",
        "pohjolan-liikenne",
    }
    assert leg.route_id.startswith(leg.operator_id + ":")
    assert leg.departure.tzinfo is not None
    assert all(leg.departure <= s.arrival <= leg.arrival for s in leg.intermediate_stops)
    # Kuopio has no shapes: the leg's line runs through its stops.
    places = [leg.from_place, *(s.stop for s in leg.intermediate_stops), leg.to_place]
    assert leg.geometry == tuple((p.lat, p.lon) for p in places)
    assert found[0].id
    assert len({i.id for i in found}) == len(found)


def test_arrive_by_also_offers_fewer_transfers_leaving_a_little_earlier() -> None:
    direct = Trip("direct", (("A", "07:50"), ("E", "08:25")))
    planner = planner_for(FAST, ON_FROM_C, direct)
    found = planner.plan(JourneyQuery("t:A", "t:E", arrive_by=at("08:30")))
    assert [(i.departure, i.transfers) for i in found] == [(at("08:00"), 1), (at("07:50"), 0)]


def test_late_trip_that_overtakes_another_is_still_found() -> None:
    planner = planner_for(FAST, SLOW)
    times = np.asarray([hms("08:03"), hms("08:06"), hms("08:10")], dtype=np.int32)
    late_start = {"t:fast": TripRealtime(times, times, np.zeros(3, np.bool_))}
    found = planner.plan(JourneyQuery("t:A", "t:C", depart_at=at("08:01")), overlay=late_start)
    assert rides(found) == ["fast"]
    assert (found[0].departure, found[0].arrival) == (at("08:03"), at("08:10"))


def test_kuopio_journeys_change_between_operators(kuopio_planner: Planner) -> None:
    snap = kuopio_planner.snapshot
    when = dt.datetime.combine(KUOPIO_DAY, dt.time(7, 30), ZoneInfo(snap.timezone))
    served = [snap.stops.ids[s] for s in sorted(set(snap.trips.stop.tolist()))]
    mixed = []
    for origin, destination in zip(served[::37], served[5::41], strict=False):
        if origin == destination:
            continue
        for itinerary in kuopio_planner.plan(JourneyQuery(origin, destination, depart_at=when)):
            operators = [leg.operator_id for leg in itinerary.transit_legs()]
            if len(set(operators)) > 1:
                mixed.append(itinerary)
    assert mixed
    for itinerary in mixed:
        rides = itinerary.transit_legs()
        for a, b in pairwise(rides):
            if a.operator_id != b.operator_id:
                assert (b.departure - a.arrival).total_seconds() >= snap.walking.min_transfer_s


def test_nearby_coordinates_get_a_walk_only_itinerary() -> None:
    lat, lon = STOPS["A"]
    query = JourneyQuery(
        Coordinates(lat, lon), Coordinates(lat + 0.001, lon), depart_at=at("07:50")
    )
    found = planner_for(FAST).plan(query)
    assert len(found) == 1
    (leg,) = found[0].legs
    assert isinstance(leg, WalkLeg)
    assert 100 < leg.distance_m < 120
    assert leg.departure == at("07:50")
    assert found[0].transfers == 0


def test_every_kind_of_query_runs_the_one_compiled_kernel(kuopio_planner: Planner) -> None:
    # A second specialisation (an int32 array slipping in, say) would compile for seconds
    # in the middle of serving a request.
    warm_up()
    snap = kuopio_planner.snapshot
    when = dt.datetime.combine(KUOPIO_DAY, dt.time(8), ZoneInfo(snap.timezone))
    first, last = snap.trips.stop[0], snap.trips.stop[-1]
    a, b = snap.stops.ids[first], snap.stops.ids[last]
    near_b = Coordinates(float(snap.stops.lat[last]), float(snap.stops.lon[last]))
    for query in (
        JourneyQuery(a, b, depart_at=when),
        JourneyQuery(a, b, depart_at=when, window_s=3600, wheelchair=True),
        JourneyQuery(a, near_b, arrive_by=when + dt.timedelta(hours=2)),
    ):
        kuopio_planner.plan(query)
    assert len(raptor._rounds.signatures) == len(raptor._catchable.signatures) == 1  # type: ignore[attr-defined]
    assert len(reconstruct._trace.signatures) == 1  # type: ignore[attr-defined]


def test_a_ride_whose_realtime_times_run_backwards_is_scanned_to_its_end() -> None:
    # Round 1 reaches E at 08:40 directly and B by the feeder; round 2 boards "back" at B.
    # Its realtime times arrive at C after 08:40 but at E before: the scan may not stop
    # at C for being too late already (it does on routes whose times only go forward).
    direct = Trip("direct", (("A", "08:00"), ("E", "08:40")))
    feeder = Trip("feeder", (("A", "08:00"), ("B", "08:05")))
    back = Trip("back", (("B", "08:10"), ("C", "08:20"), ("E", "08:30")))
    times = np.asarray([hms("08:10"), hms("08:50"), hms("08:25")], dtype=np.int32)
    overlay = {"t:back": TripRealtime(times, times, np.zeros(3, np.bool_), False, TUESDAY)}
    planner = planner_for(direct, feeder, back)
    query = JourneyQuery("t:A", "t:E", depart_at=at("07:55"))
    found = planner.plan(query, overlay=overlay)
    assert [(rides(found, i), found[i].arrival) for i in range(len(found))] == [
        (["feeder", "back"], at("08:25")),
        (["direct"], at("08:40")),
    ]
    routes = raptor.network(planner.day_view(TUESDAY, overlay=overlay), planner.snapshot.footpaths)
    assert not routes.route_forward.all()
    assert raptor.network(planner.day_view(TUESDAY), planner.snapshot.footpaths).route_forward.all()
