"""pynigiri (the C++ nigiri behind MOTIS) given the same question as our planner.

The feed nigiri loads is the one we plan on: the imported tables (ids
namespaced, blank times interpolated) written back as a GTFS zip, with our
footpaths between vehicles (those within the query's transfer limit) and our
per-stop transfer times as `transfers.txt`, rounded up to whole minutes as
nigiri counts in minutes; its own stop linking is off. Each query starts at our
access stops and ends at our egress stops, with our walking times as offsets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gtfs.feed.export import write_gtfs_zip
from gtfs.snapshot.build import Snapshot
from gtfs.tables import GtfsTables
from journeys.walking import Reach


def minutes_up(seconds: int) -> int:
    """Return whole minutes, rounded up."""
    return -(-seconds // 60)


def our_transfers(snap: Snapshot, max_walk_s: int) -> pd.DataFrame:
    """Return our footpaths within a walk limit and per-stop transfer times as transfers.txt."""
    f, ids = snap.footpaths, snap.stops.ids
    origin = np.repeat(np.arange(len(ids)), np.diff(f.ptr))
    usable = f.duration_s <= max_walk_s
    a, b = origin[usable].tolist(), f.to_stop[usable].tolist()
    seconds = f.duration_s[usable].tolist()
    same = list(range(len(ids)))
    return pd.DataFrame(
        {
            "from_stop_id": [ids[x] for x in a] + [ids[x] for x in same],
            "to_stop_id": [ids[x] for x in b] + [ids[x] for x in same],
            "transfer_type": 2,
            "min_transfer_time": [60 * minutes_up(s) for s in seconds]
            + [60 * minutes_up(int(f.transfer_s[x])) for x in same],
        }
    )


class Nigiri:
    """One pynigiri timetable of the service date's neighbourhood, and its queries."""

    def __init__(self, tables: GtfsTables, snap: Snapshot, day: dt.date, max_walk_s: int) -> None:
        """Write the feed as we plan on it and load it into nigiri."""
        import pynigiri as ng

        self.ng: Any = ng
        self.snap = snap
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "feed.zip"
            with path.open("wb") as out:
                write_gtfs_zip(
                    dataclasses.replace(tables, transfers=our_transfers(snap, max_walk_s)), out
                )
            config = ng.LoaderConfig()
            config.link_stop_distance = 0
            source = [ng.TimetableSource("bench", str(path), config)]
            first, last = day - dt.timedelta(days=1), day + dt.timedelta(days=2)
            self.timetable = ng.load_timetable(source, first.isoformat(), last.isoformat())

    def _offsets(self, reach: Reach) -> list[Any]:
        """Return nigiri offsets for the stops of a walk."""
        ids = self.snap.stops.ids
        return [
            self.ng.Offset(self.timetable.find_location(ids[s]), minutes_up(w), 0)
            for s, w in zip(reach.stops.tolist(), reach.walk_s.tolist(), strict=True)
        ]

    def query(self, start: Reach, end: Reach, depart_epoch_s: int, max_transfers: int) -> Any:
        """Return a prepared nigiri query from our access stops to our egress stops."""
        query = self.ng.Query()
        query.start_time = depart_epoch_s // 60
        query.start = self._offsets(start)
        query.destination = self._offsets(end)
        query.max_transfers = max_transfers
        query.use_start_footpaths = False
        return query

    def earliest_arrival(self, query: Any) -> int | None:
        """Route a prepared query; return the earliest arrival (epoch seconds) or None."""
        journeys = self.ng.route(self.timetable, query)
        return min((int(j.arrival_time()) * 60 for j in journeys), default=None)
