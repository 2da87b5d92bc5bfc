"""TripUpdates -> realtime overlay on real Kuopio trips, as the GTFS-RT reference specifies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from google.transit import gtfs_realtime_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from gtfs.feed.read import read_tables
from gtfs.realtime.overlay import TripRealtime
from gtfs.realtime.read import (
    FeedDecodeError,
    TripSchedules,
    TripUpdatesFeed,
    build_trip_schedules,
    feed_message_json,
    merged_feed_message,
    merged_overlay,
    read_trip_updates,
)
from gtfs.snapshot.build import build_snapshot
from gtfs.tables import GtfsTables
from journeys.planner import JourneyQuery, Planner

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
HELSINKI = ZoneInfo("Europe/Helsinki")
TRIP = "kuopio:Talvikausi_82_82_505_0620_Ma-Pe_0620"  # 38 stops, 06:20-06:50, Mon-Fri
NIGHT_TRIP = "kuopio:Talvikausi_7_7_8072_Ma-Pe_2320"  # runs past midnight
NOW_S = 1_478_500_000

TripUpdate = gtfs_realtime_pb2.TripUpdate
StopTimeUpdate = TripUpdate.StopTimeUpdate
TripSR = gtfs_realtime_pb2.TripDescriptor.ScheduleRelationship
Ints = npt.NDArray[np.int64]


@pytest.fixture(scope="module")
def kuopio() -> GtfsTables:
    return read_tables(DATA / "gtfs" / "kuopio.zip", "kuopio")


@pytest.fixture(scope="module")
def schedules(kuopio: GtfsTables) -> TripSchedules:
    return build_trip_schedules(kuopio)


def scheduled(tables: GtfsTables, trip_id: str) -> tuple[Ints, Ints, list[str]]:
    st = tables.stop_times[tables.stop_times["trip_id"] == trip_id].sort_values("stop_sequence")
    arrival = st["arrival_s"].to_numpy(dtype=np.int64)
    departure = st["departure_s"].to_numpy(dtype=np.int64)
    return arrival, departure, [s.split(":", 1)[1] for s in st["stop_id"]]


def stu(
    sequence: int | None = None,
    *,
    stop_id: str | None = None,
    arrival_delay: int | None = None,
    departure_delay: int | None = None,
    arrival_time: int | None = None,
    departure_time: int | None = None,
    relationship: int = StopTimeUpdate.SCHEDULED,
) -> StopTimeUpdate:
    update = StopTimeUpdate(schedule_relationship=relationship)  # type: ignore[arg-type]
    if sequence is not None:
        update.stop_sequence = sequence
    if stop_id is not None:
        update.stop_id = stop_id
    if arrival_delay is not None:
        update.arrival.delay = arrival_delay
    if arrival_time is not None:
        update.arrival.time = arrival_time
    if departure_delay is not None:
        update.departure.delay = departure_delay
    if departure_time is not None:
        update.departure.time = departure_time
    return update


def trip_update(
    trip_id: str,
    *updates: StopTimeUpdate,
    start_date: str = "",
    relationship: int = TripSR.SCHEDULED,
    delay: int | None = None,
) -> TripUpdate:
    update = TripUpdate()
    update.trip.trip_id = trip_id.split(":", 1)[1] if trip_id.startswith("kuopio:") else trip_id
    update.trip.schedule_relationship = relationship  # type: ignore[assignment]
    if start_date:
        update.trip.start_date = start_date
    if delay is not None:
        update.delay = delay
    update.stop_time_update.extend(updates)
    return update


def feed(*updates: TripUpdate) -> bytes:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = NOW_S
    for i, update in enumerate(updates):
        entity = message.entity.add()
        entity.id = f"e{i}"
        entity.trip_update.CopyFrom(update)
    return message.SerializeToString()


def apply(schedules: TripSchedules, *updates: TripUpdate) -> TripUpdatesFeed:
    return read_trip_updates(feed(*updates), "kuopio", schedules, now_s=NOW_S)


def only(result: TripUpdatesFeed, trip_id: str = TRIP) -> TripRealtime:
    assert list(result.overlay) == [trip_id]
    return result.overlay[trip_id]


def day_start_s(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=HELSINKI).timestamp())


def test_delays_propagate_until_next_update_and_no_data_resets(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    # The reference's example 2: 300 s at sequence 3, 60 s at 8, no data from 10.
    arrival, departure, _ = scheduled(kuopio, TRIP)
    realtime = only(
        apply(
            schedules,
            trip_update(
                TRIP,
                stu(3, arrival_delay=300),
                stu(8, arrival_delay=60),
                stu(10, relationship=StopTimeUpdate.NO_DATA),
            ),
        )
    )
    delays = realtime.arrival_s - arrival
    assert delays.tolist() == [0, 0] + [300] * 5 + [60] * 2 + [0] * 29
    assert (realtime.departure_s - departure).tolist() == delays.tolist()
    assert realtime.arrival_s.dtype == np.int32
    assert not realtime.skipped.any()
    assert realtime.cancelled is False


def test_trip_delay_applies_before_the_first_stop_update(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    arrival, _, _ = scheduled(kuopio, TRIP)
    realtime = only(apply(schedules, trip_update(TRIP, stu(5, arrival_delay=30), delay=120)))
    assert (realtime.arrival_s - arrival).tolist() == [120] * 4 + [30] * 34
    alone = only(apply(schedules, trip_update(TRIP, delay=-45)))
    assert (alone.arrival_s - arrival).tolist() == [-45] * 38


def test_absolute_times_use_start_date_and_agency_zone(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    arrival, _, _ = scheduled(kuopio, TRIP)
    for day in (dt.date(2016, 11, 7), dt.date(2017, 5, 8)):  # EET (+2) and EEST (+3)
        start = day_start_s(day)
        realtime = only(
            apply(
                schedules,
                trip_update(
                    TRIP,
                    stu(2, arrival_time=start + int(arrival[1]) + 90),
                    stu(6, departure_time=start + int(arrival[5]) - 30),
                    start_date=day.strftime("%Y%m%d"),
                ),
            )
        )
        assert (realtime.arrival_s - arrival).tolist() == [0] + [90] * 4 + [-30] * 33
        assert realtime.service_date == day


def test_absolute_times_without_start_date_pick_the_service_day(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    arrival, _, _ = scheduled(kuopio, NIGHT_TRIP)
    last = len(arrival) - 1
    assert arrival[last] > 24 * 3600
    monday = dt.date(2016, 11, 7)
    when_s = day_start_s(monday) + int(arrival[last]) + 240  # early Tuesday morning
    realtime = only(
        apply(schedules, trip_update(NIGHT_TRIP, stu(last + 1, arrival_time=when_s))), NIGHT_TRIP
    )
    assert int(realtime.arrival_s[last] - arrival[last]) == 240
    assert realtime.service_date == monday  # Monday's run, though it is Tuesday already
    relative = only(apply(schedules, trip_update(NIGHT_TRIP, delay=60)), NIGHT_TRIP)
    assert relative.service_date is None  # a delay alone names no day


def test_skipped_stop_is_flagged_and_delay_propagates_over_it(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    arrival, _, _ = scheduled(kuopio, TRIP)
    realtime = only(
        apply(
            schedules,
            trip_update(
                TRIP,
                stu(4, arrival_delay=180),
                stu(6, relationship=StopTimeUpdate.SKIPPED, arrival_delay=999),
                stu(7, relationship=StopTimeUpdate.SKIPPED),
            ),
        )
    )
    assert np.flatnonzero(realtime.skipped).tolist() == [5, 6]
    assert (realtime.arrival_s - arrival).tolist() == [0] * 3 + [180] * 35


@pytest.mark.parametrize("relationship", [TripSR.CANCELED, TripSR.DELETED])
def test_cancelled_trip_has_every_stop_skipped(
    kuopio: GtfsTables, schedules: TripSchedules, relationship: int
) -> None:
    arrival, _, _ = scheduled(kuopio, TRIP)
    realtime = only(
        apply(schedules, trip_update(TRIP, stu(3, arrival_delay=60), relationship=relationship))
    )
    assert realtime.cancelled is True
    assert realtime.skipped.all()
    assert realtime.arrival_s.tolist() == arrival.tolist()


def test_updates_match_by_stop_id(kuopio: GtfsTables, schedules: TripSchedules) -> None:
    arrival, _, stop_ids = scheduled(kuopio, TRIP)
    realtime = only(
        apply(
            schedules,
            trip_update(
                TRIP, stu(stop_id=stop_ids[9], arrival_delay=75), stu(stop_id=stop_ids[20])
            ),
        )
    )
    assert (realtime.arrival_s - arrival).tolist() == [0] * 9 + [75] * 11 + [0] * 18


def test_only_one_event_given_sets_both_and_departure_never_precedes_arrival(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    arrival, departure, _ = scheduled(kuopio, TRIP)
    realtime = only(
        apply(
            schedules,
            trip_update(
                TRIP,
                stu(2, departure_delay=50),
                stu(4, arrival_delay=300, departure_delay=0),
                stu(6, arrival_delay=20),
            ),
        )
    )
    # At sequence 4 the vehicle cannot leave before it arrives: it leaves 300 s late, and
    # that effective delay is what carries on to sequence 5.
    assert (realtime.arrival_s - arrival).tolist()[:7] == [0, 50, 50, 300, 300, 20, 20]
    assert (realtime.departure_s - departure).tolist()[:7] == [0, 50, 50, 300, 300, 20, 20]
    assert (realtime.departure_s >= realtime.arrival_s).all()


def test_unknown_trips_and_stops_are_counted_not_fatal(schedules: TripSchedules) -> None:
    result = apply(
        schedules,
        trip_update("kuopio:no-such-trip", stu(1, arrival_delay=60)),
        trip_update(TRIP, stu(2, arrival_delay=60), stu(99, arrival_delay=1), stu(stop_id="x")),
        trip_update("added", stu(1, arrival_delay=0), relationship=TripSR.NEW),
    )
    report = result.report
    assert list(result.overlay) == [TRIP]
    assert report.entity_count == 3
    assert report.accepted_count == 1
    assert report.unknown_trip_count == 1
    assert report.unknown_trip_samples == ("kuopio:no-such-trip",)
    assert report.unknown_stop_count == 2
    assert set(report.unknown_stop_samples) == {"kuopio:x", f"{TRIP}@stop_sequence=99"}
    assert report.unsupported_count == 1
    assert report.stale is False


def test_garbage_raises_before_any_state_is_returned(schedules: TripSchedules) -> None:
    previous = apply(schedules, trip_update(TRIP, stu(1, arrival_delay=60)))
    with pytest.raises(FeedDecodeError):
        read_trip_updates(b"\xff\xfe not protobuf", "kuopio", schedules, now_s=NOW_S)
    assert int(previous.overlay[TRIP].arrival_s[0]) == 22800 + 60


@pytest.mark.parametrize("when_s", [10**15, -(10**12)])
def test_a_time_no_calendar_holds_is_a_feed_error(schedules: TripSchedules, when_s: int) -> None:
    # Without a start_date the time picks the service day: it must be a date at all.
    with pytest.raises(FeedDecodeError, match=r"arrival\.time"):
        apply(schedules, trip_update(TRIP, stu(2, arrival_time=when_s)))


def test_septa_sample_is_read_and_its_trips_reported_unknown() -> None:
    data = (DATA / "gtfs-rt" / "septa-trip-updates.pb").read_bytes()
    result = read_trip_updates(
        data, "septa", build_trip_schedules(GtfsTables.empty()), now_s=1680120572 + 10
    )
    assert result.report.entity_count == 35
    assert result.report.unknown_trip_count == 35
    assert "septa:AIR_4846_V55_M" in result.report.unknown_trip_samples
    assert result.report.header_timestamp_s == 1680120572
    assert result.report.stale is False
    assert result.overlay == {}
    assert result.entities == {}


def test_septa_sample_applies_to_a_timetable_with_its_trips() -> None:
    data = (DATA / "gtfs-rt" / "septa-trip-updates.pb").read_bytes()
    message = gtfs_realtime_pb2.FeedMessage.FromString(data)
    updates = {
        e.trip_update.trip.trip_id: e.trip_update.stop_time_update[0] for e in message.entity
    }
    assert len(updates) == 35
    # Every trip gets stops 1..n (n >= 40) with the feed's stop at the sequence it names.
    trips = {
        trip: [
            u.stop_id if seq == u.stop_sequence else f"x{seq}"
            for seq in range(1, max(40, u.stop_sequence + 5) + 1)
        ]
        for trip, u in updates.items()
    }
    schedules = build_trip_schedules(tiny_tables("septa", trips))
    result = read_trip_updates(data, "septa", schedules, now_s=1680120572)
    report = result.report
    assert (report.entity_count, report.accepted_count, report.unknown_trip_count) == (35, 35, 0)
    assert report.unknown_stop_count == 0
    for trip, update in updates.items():
        realtime = result.overlay[f"septa:{trip}"]
        n, k = len(trips[trip]), update.stop_sequence - 1
        delays = realtime.arrival_s - (36000 + 60 * np.arange(n))
        assert delays.tolist() == [0] * k + [update.arrival.delay] * (n - k)
    assert int(result.overlay["septa:AIR_8447_V55_M"].arrival_s[34]) == 36000 + 60 * 34 + 60
    entity = gtfs_realtime_pb2.FeedEntity.FromString(result.entities["septa:AIR_8447_V55_M"])
    assert entity.id == "septa:AIR_8447_V55_M"
    assert entity.trip_update.stop_time_update[0].stop_id == "septa:90405"
    assert entity.trip_update.stop_time_update[0].arrival.delay == 60
    assert entity.trip_update.timestamp == 1680120480


def test_trip_update_entities_are_namespaced_and_merge(schedules: TripSchedules) -> None:
    result = apply(schedules, trip_update(TRIP, stu(3, stop_id="201588", arrival_delay=60)))
    merged = merged_feed_message(
        timestamp_s=NOW_S, trip_update_entities=[*result.entities.values()] * 2
    )
    decoded = gtfs_realtime_pb2.FeedMessage.FromString(merged.SerializeToString())
    assert [e.id for e in decoded.entity] == ["kuopio:e0", "kuopio:e0#2"]
    update = decoded.entity[0].trip_update
    assert update.trip.trip_id == TRIP
    assert update.stop_time_update[0].stop_id == "kuopio:201588"
    assert update.stop_time_update[0].arrival.delay == 60


def tiny_tables(
    operator_id: str, trips: dict[str, list[str]], timezone: str = "America/New_York"
) -> GtfsTables:
    """A timetable of the given trips (stop_sequence 1, 2...; a minute apart from 10:00)."""
    empty = GtfsTables.empty()
    rows = [
        (f"{operator_id}:{trip}", i + 1, f"{operator_id}:{stop}", 36000 + 60 * i)
        for trip, stops in trips.items()
        for i, stop in enumerate(stops)
    ]
    trip_ids, sequences, stop_ids, times = (list(column) for column in zip(*rows, strict=True))
    ns = f"{operator_id}:"
    return GtfsTables(
        agency=pd.DataFrame({"agency_id": [ns + "ag"], "agency_timezone": [timezone]}),
        stops=pd.DataFrame({"stop_id": sorted(set(stop_ids))}),
        routes=pd.DataFrame({"route_id": [ns + "r"], "agency_id": [ns + "ag"]}),
        trips=pd.DataFrame(
            {"trip_id": [ns + t for t in trips], "route_id": ns + "r", "service_id": ns + "s"}
        ),
        stop_times=pd.DataFrame(
            {
                "trip_id": trip_ids,
                "stop_sequence": sequences,
                "stop_id": stop_ids,
                "arrival_s": times,
                "departure_s": times,
            }
        ),
        calendar=empty.calendar,
        calendar_dates=pd.DataFrame(
            {"service_id": [ns + "s"], "date": ["20240610"], "exception_type": [1]}
        ),
        transfers=empty.transfers,
        shapes=empty.shapes,
    )


def test_stop_visited_twice_matches_the_visit_after_the_previous_update() -> None:
    schedules = build_trip_schedules(tiny_tables("t", {"loop": ["A", "B", "C", "A", "D"]}))
    start_s = int(dt.datetime(2024, 6, 10, tzinfo=ZoneInfo("America/New_York")).timestamp())
    result = read_trip_updates(
        feed(
            trip_update(
                "loop",
                stu(stop_id="A", arrival_delay=10),
                stu(stop_id="C", arrival_delay=20),
                stu(stop_id="A", arrival_time=start_s + 36180 + 30),
            )
        ),
        "t",
        schedules,
        now_s=NOW_S,
    )
    realtime = result.overlay["t:loop"]
    assert (realtime.arrival_s - np.array([36000, 36060, 36120, 36180, 36240])).tolist() == [
        10,
        10,
        20,
        30,
        30,
    ]
    assert result.report.unknown_stop_count == 0


@settings(max_examples=40, deadline=None)
@given(
    updates=st.lists(
        st.tuples(
            st.integers(1, 38),
            st.sampled_from([0, 1, 2]),
            st.none() | st.integers(-600, 1800),
            st.none() | st.integers(-600, 1800),
        ),
        max_size=12,
    )
)
def test_any_updates_keep_departure_after_arrival_and_skip_only_skipped(
    schedules: TripSchedules, updates: list[tuple[int, int, int | None, int | None]]
) -> None:
    updates = sorted(updates, key=lambda u: u[0])
    realtime = only(
        apply(
            schedules,
            trip_update(
                TRIP,
                *(
                    stu(seq, relationship=rel, arrival_delay=arr, departure_delay=dep)
                    for seq, rel, arr, dep in updates
                ),
            ),
        )
    )
    assert len(realtime.arrival_s) == len(realtime.departure_s) == len(realtime.skipped) == 38
    assert (realtime.departure_s >= realtime.arrival_s).all()
    skipped = {seq - 1 for seq, rel, _, _ in updates if rel == StopTimeUpdate.SKIPPED}
    assert set(np.flatnonzero(realtime.skipped).tolist()) == skipped


def test_planner_skips_a_cancelled_trip_and_rides_a_delayed_one_late(
    kuopio: GtfsTables, schedules: TripSchedules
) -> None:
    # The contract with the planner: overlay entries line up with the snapshot's stop times.
    planner = Planner(build_snapshot(kuopio))
    _, _, stop_ids = scheduled(kuopio, TRIP)
    query = JourneyQuery(
        origin=f"kuopio:{stop_ids[0]}",
        destination=f"kuopio:{stop_ids[15]}",
        depart_at=dt.datetime(2016, 11, 7, 6, 19, tzinfo=HELSINKI),
    )

    def rides(overlay: dict[str, TripRealtime] | None) -> list[tuple[str, str, bool]]:
        return [
            (leg.trip_id, f"{leg.departure:%H:%M}", leg.realtime)
            for itinerary in planner.plan(query, overlay)
            for leg in itinerary.transit_legs()
        ]

    assert rides(None) == [(TRIP, "06:20", False)]
    delayed = apply(schedules, trip_update(TRIP, stu(1, departure_delay=300))).overlay
    assert rides(delayed) == [(TRIP, "06:25", True)]
    cancelled = apply(schedules, trip_update(TRIP, relationship=TripSR.CANCELED)).overlay
    assert TRIP not in {trip for trip, _, _ in rides(cancelled)}


def test_operators_overlays_merge_and_known_ids_come_from_the_schedules(
    schedules: TripSchedules,
) -> None:
    kuopio_overlay = apply(schedules, trip_update(TRIP, stu(1, arrival_delay=60))).overlay
    loop = build_trip_schedules(tiny_tables("t", {"loop": ["A", "B"]}))
    loop_overlay = read_trip_updates(
        feed(trip_update("loop", stu(1, arrival_delay=5))), "t", loop, now_s=NOW_S
    ).overlay
    merged = merged_overlay([kuopio_overlay, loop_overlay])
    assert set(merged) == {TRIP, "t:loop"}
    assert merged["t:loop"].arrival_s.tolist() == [36005, 36065]
    assert TRIP in schedules.known_trip_ids()
    assert "kuopio:201481" in schedules.known_stop_ids()
    assert set(loop.known_stop_ids()) == {"t:A", "t:B"}


def test_merged_trip_updates_render_as_json(schedules: TripSchedules) -> None:
    result = apply(schedules, trip_update(TRIP, stu(3, arrival_delay=60)))
    rendered = json.loads(
        feed_message_json(
            merged_feed_message(timestamp_s=NOW_S, trip_update_entities=result.entities.values())
        )
    )
    (entity,) = rendered["entity"]
    assert entity["trip_update"]["trip"]["trip_id"] == TRIP
    assert entity["trip_update"]["stop_time_update"][0]["arrival"]["delay"] == 60
