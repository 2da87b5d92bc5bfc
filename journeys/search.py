"""One RAPTOR run per departure time, and the departures of a window for range (rRAPTOR) queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.footpaths import expand_ranges
from journeys.dayview import DayView
from journeys.raptor import (
    Bounds,
    Labels,
    Network,
    Targets,
    catchable,
    run_rounds,
)

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Access:
    """Where a journey may start: stops with the walk to them (0 for the origin stop itself)."""

    stops: I64
    access_s: I64


class Found(NamedTuple):
    """A destination label that improved: departure of the run, round, arrival."""

    departure_s: int
    round: int
    arrival_s: int


def run_departure(
    net: Network,
    labels: Labels,
    access: Access,
    departure_s: int,
    targets: Targets,
    bounds: Bounds,
    max_walk_s: int,
    marked: I64 | None = None,
) -> list[Found]:
    """Run RAPTOR rounds for one departure on top of the labels; return improved destinations.

    `bounds` bound the rest of the journey (zeros: prune on the destination's own label
    only); a walk between vehicles takes at most `max_walk_s`; `marked` restricts the
    first round to some access stops (default: all of them).
    """
    start = (access.stops, access.access_s, departure_s)
    improved = run_rounds(net, labels, targets, bounds, start, marked, max_walk_s)
    return [Found(departure_s, k, int(labels.target[k])) for k in improved.tolist()]


def departures_in_window(
    view: DayView, access: Access, first_s: int, last_s: int
) -> list[tuple[int, I64]]:
    """Return the distinct times to leave the origin and catch a vehicle, latest first.

    Each time comes with the access stops where a vehicle is caught by leaving then: in a
    range query, only those stops offer a trip the later departures did not catch there.
    """
    counts = view.stop_pp_ptr[access.stops + 1] - view.stop_pp_ptr[access.stops]
    owner, flat = expand_ranges(view.stop_pp_ptr[access.stops], counts)
    pp = view.stop_pp[flat]
    board = view.pp_board[pp]
    pp, walk_s, stop = pp[board], access.access_s[owner[board]], access.stops[owner[board]]
    lo, hi = catchable(view, pp, first_s + walk_s, last_s + walk_s)
    # Every (access stop, trip) counts, even a trip caught later at another access stop:
    # boarding it here may reach stops it passes before that one.
    who, col = expand_ranges(lo, hi - lo)
    times, stops = view.col_departure_s[col] - walk_s[who], stop[who]
    by_time = np.lexsort((stops, -times))
    times, stops = times[by_time], stops[by_time]
    cuts = np.flatnonzero(np.diff(times)) + 1
    out = [
        (int(group_times[0]), np.unique(group_stops))
        for group_times, group_stops in zip(
            np.split(times, cuts), np.split(stops, cuts), strict=True
        )
        if len(group_times)
    ]
    if not out:  # the first run marks every access stop: trips after the window count too
        out.append((first_s, np.zeros(0, dtype=np.int64)))
    return out
