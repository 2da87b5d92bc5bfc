"""The realtime overlay: expected times of the trips that GTFS-Realtime says are late or cancelled.

The contract between `gtfs.realtime.read` (which builds it from TripUpdates) and the
planner and departures board (which read it on top of an unchanged snapshot).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class TripRealtime:
    """Expected times of one trip, one entry per stop of the trip in stop_sequence order.

    Times count from the start of the trip's service day (GTFS time). `service_date` is
    the run the update is about (its start_date, or the day its times fit); None when the
    feed says neither, and the update then applies to the run nearest the query's day.
    """

    arrival_s: npt.NDArray[np.int32]
    departure_s: npt.NDArray[np.int32]
    skipped: npt.NDArray[np.bool_]
    cancelled: bool = False
    service_date: dt.date | None = None


#: Keyed by namespaced trip id (`operator:trip_id`); trips not in it run as scheduled.
RealtimeOverlay = Mapping[str, TripRealtime]
