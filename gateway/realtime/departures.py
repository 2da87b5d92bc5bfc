"""Expected times and cancellations of scheduled departures, read from the realtime overlay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from gtfs.realtime.overlay import RealtimeOverlay
from gtfs.snapshot.open_data import Departure


@dataclass(frozen=True, slots=True)
class ExpectedDeparture:
    """What realtime says of one departure (nothing when it has no update)."""

    expected_at: dt.datetime | None = None
    delay_s: int | None = None
    cancelled: bool = False

    @property
    def realtime(self) -> bool:
        """Tell whether realtime data covers the departure."""
        return self.delay_s is not None or self.cancelled


def expected_departures(
    departures: Sequence[Departure], overlay: RealtimeOverlay | None
) -> list[ExpectedDeparture]:
    """Return realtime information for each departure, in the same order."""
    seen: set[str] = set()
    found: list[ExpectedDeparture] = []
    for d in departures:
        rt = overlay.get(d.trip_id) if overlay else None
        if rt is not None and (
            d.service_day != rt.service_date if rt.service_date else d.trip_id in seen
        ):
            rt = None  # another run's update; one naming no date: the soonest run listed
        seen.add(d.trip_id)
        if rt is None or not 0 <= d.stop_index < len(rt.departure_s):
            found.append(ExpectedDeparture())
        elif rt.cancelled or bool(rt.skipped[d.stop_index]):
            found.append(ExpectedDeparture(cancelled=True))
        else:
            delay_s = int(rt.departure_s[d.stop_index]) - d.departure_s
            expected_at = d.departure_at + dt.timedelta(seconds=delay_s)
            found.append(ExpectedDeparture(expected_at, delay_s))
    return found
