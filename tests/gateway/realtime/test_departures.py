"""Expected departures: an update applies to the run of its service date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from gateway.realtime.departures import expected_departures
from gtfs.realtime.overlay import TripRealtime
from gtfs.snapshot.open_data import Departure

TZ = ZoneInfo("Europe/Helsinki")
MONDAY, TUESDAY = dt.date(2024, 3, 4), dt.date(2024, 3, 5)


def _departure(day: dt.date) -> Departure:
    departure_s = 24 * 3600 + 1800  # 24:30, after midnight of the service day
    noon = dt.datetime.combine(day, dt.time(12), TZ)
    at = noon - dt.timedelta(hours=12) + dt.timedelta(seconds=departure_s)
    return Departure("t:night", "t:R", "1", "E", "t", day, departure_s, at, 0, 0)


def _late(service_date: dt.date | None) -> dict[str, TripRealtime]:
    times = np.asarray([24 * 3600 + 2400], dtype=np.int32)  # 24:40
    return {"t:night": TripRealtime(times, times, np.zeros(1, np.bool_), False, service_date)}


def test_a_dated_update_delays_only_its_own_run() -> None:
    runs = [_departure(MONDAY), _departure(TUESDAY)]
    delays = [e.delay_s for e in expected_departures(runs, _late(TUESDAY))]
    assert delays == [None, 600]
    delays = [e.delay_s for e in expected_departures(runs, _late(MONDAY))]
    assert delays == [600, None]


def test_an_undated_update_delays_the_soonest_run_listed() -> None:
    runs = [_departure(MONDAY), _departure(TUESDAY)]
    assert [e.delay_s for e in expected_departures(runs, _late(None))] == [600, None]
