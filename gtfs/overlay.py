"""The realtime overlay: expected times of the trips that GTFS-Realtime says are late or cancelled.

The contract between `gtfs.realtime` (which builds it from TripUpdates) and the
planner and departures board (which read it on top of an unchanged snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class TripRealtime:
    """Expected times of one trip, one entry per stop of the trip in stop_sequence order."""

    arrival_s: npt.NDArray[np.int32]
    departure_s: npt.NDArray[np.int32]
    skipped: npt.NDArray[np.bool_]
    cancelled: bool = False


#: Keyed by namespaced trip id (`operator:trip_id`); trips not in it run as scheduled.
RealtimeOverlay = Mapping[str, TripRealtime]
