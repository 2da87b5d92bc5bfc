"""A tiny hand-made network for what the real feeds do not pin down (blocks, realtime, midnight)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from gtfs.tables import COLUMNS, GtfsTables

OPERATOR = "t"
TZ = "Europe/Helsinki"

#: Stops on a west-east line about 1.1 km apart; "C2" is 100 m north of "C".
STOPS: dict[str, tuple[float, float]] = {
    "A": (62.0, 27.00),
    "B": (62.0, 27.02),
    "C": (62.0, 27.04),
    "C2": (62.0009, 27.04),
    "D": (62.0, 27.06),
    "E": (62.0, 27.08),
}


def hms(text: str) -> int:
    """Return seconds of an "HH:MM" time (hours may pass 24)."""
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


@dataclass(frozen=True)
class Trip:
    """A trip: its calls as (stop, "HH:MM"), optional block and accessibility."""

    trip_id: str
    calls: tuple[tuple[str, str], ...]
    block_id: str | None = None
    wheelchair: int = 1
    service_id: str = "weekday"
    no_pickup: frozenset[str] = field(default_factory=frozenset)


def _frame(name: str, rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Return a table with every GTFS column of `name`."""
    return pd.DataFrame(rows, columns=list(COLUMNS[name]))


def network(trips: list[Trip], wheelchair_stops: dict[str, int] | None = None) -> GtfsTables:
    """Build namespaced tables for the trips on the fixed stops (service: weekdays of 2024)."""
    ns = f"{OPERATOR}:"
    stop_rows = [
        {
            "stop_id": ns + s,
            "stop_name": s,
            "stop_lat": lat,
            "stop_lon": lon,
            "operator_id": OPERATOR,
            "wheelchair_boarding": (wheelchair_stops or {}).get(s, 0),
        }
        for s, (lat, lon) in STOPS.items()
    ]
    st_rows = [
        {
            "trip_id": ns + t.trip_id,
            "stop_sequence": i + 1,
            "stop_id": ns + stop,
            "arrival_s": hms(time),
            "departure_s": hms(time),
            "pickup_type": 1 if stop in t.no_pickup else 0,
            "drop_off_type": 0,
        }
        for t in trips
        for i, (stop, time) in enumerate(t.calls)
    ]
    trip_rows = [
        {
            "trip_id": ns + t.trip_id,
            "route_id": ns + "R",
            "service_id": ns + t.service_id,
            "trip_headsign": t.calls[-1][0],
            "block_id": ns + t.block_id if t.block_id else None,
            "wheelchair_accessible": t.wheelchair,
            "operator_id": OPERATOR,
        }
        for t in trips
    ]
    weekdays = dict.fromkeys(("monday", "tuesday", "wednesday", "thursday", "friday"), 1)
    weekend = {"saturday": 0, "sunday": 0}
    calendar = [
        {
            "service_id": ns + "weekday",
            **weekdays,
            **weekend,
            "start_date": "20240101",
            "end_date": "20241231",
        }
    ]
    st = _frame("stop_times", st_rows)
    st["arrival_s"] = st["arrival_s"].astype("Int32")
    st["departure_s"] = st["departure_s"].astype("Int32")
    return GtfsTables(
        agency=_frame(
            "agency",
            [
                {
                    "agency_id": ns + "A",
                    "agency_name": "Test",
                    "agency_timezone": TZ,
                    "operator_id": OPERATOR,
                }
            ],
        ),
        stops=_frame("stops", stop_rows),
        routes=_frame(
            "routes",
            [
                {
                    "route_id": ns + "R",
                    "agency_id": ns + "A",
                    "route_short_name": "1",
                    "route_type": 3,
                    "operator_id": OPERATOR,
                }
            ],
        ),
        trips=_frame("trips", trip_rows),
        stop_times=st,
        calendar=_frame("calendar", calendar),
        calendar_dates=_frame(
            "calendar_dates",
            [{"service_id": ns + "weekday", "date": "20240501", "exception_type": 2}],
        ),
        transfers=_frame("transfers", []),
        shapes=_frame("shapes", []),
    )
