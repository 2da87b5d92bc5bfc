"""Stops that several operators share are one place, as a GTFS station groups its platforms.

A feed split by agency (the Kuopio demo) gives each operator its own copy of a
stop: the same id under each operator's prefix, at the same coordinates. Such
copies become one place (`place:<stop id>`) with each operator's stop under it,
so stop searches list the place once and a change between the copies is a
transfer at one place, not a walk. Stops of one operator, or of different ids,
are never grouped: those are linked by footpaths as before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.footpaths import haversine_m

#: The prefix of a shared place's id; `place` can never be an operator id.
PLACE_PREFIX = "place:"
#: Copies of one stop further apart than this are different places.
SAME_PLACE_M = 10.0

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class StopPlaces:
    """Shared places: `place_of[stop]` (-1: none), each place's members, stops by local id."""

    ids: tuple[str, ...]
    index: dict[str, int]
    place_of: I32
    member_ptr: I64
    members: I32
    by_local_id: dict[str, tuple[int, ...]]

    def members_of(self, place: int) -> I32:
        """Return the stop indices of one place, by operator id."""
        return self.members[self.member_ptr[place] : self.member_ptr[place + 1]]

    def same_place(self, stop: int) -> I32:
        """Return a stop and the other operators' stops at its place (the stop alone if none)."""
        place = int(self.place_of[stop])
        if place < 0:
            return np.asarray([stop], dtype=np.int32)
        return self.members_of(place)

    def together(self, a: int, b: int) -> bool:
        """Return whether two stop indices are one stop or stops of one place."""
        return a == b or (self.place_of[a] >= 0 and self.place_of[a] == self.place_of[b])


def local_id(stop_id: str) -> str:
    """Return a stop's id in its operator's own feed (without the `operator:` prefix)."""
    return stop_id.split(":", 1)[1] if ":" in stop_id else stop_id


def _split(stops: list[int], lat: F64, lon: F64) -> list[list[int]]:
    """Split copies of one local id into groups, each within `SAME_PLACE_M` of its first stop."""
    groups: list[list[int]] = []
    pending = stops
    while pending:
        first, rest = pending[0], np.asarray(pending[1:], dtype=np.int64)
        near = (
            haversine_m(
                np.full(len(rest), lat[first]), np.full(len(rest), lon[first]), lat[rest], lon[rest]
            )
            <= SAME_PLACE_M
        )
        groups.append([first, *rest[near].tolist()])
        pending = rest[~near].tolist()
    return groups


def _groups(
    by_local: dict[str, list[int]], lat: F64, lon: F64, operators: tuple[str, ...]
) -> list[list[int]]:
    """Return the groups of copies: one local id, several operators, within `SAME_PLACE_M`."""
    shared = [sorted(s, key=lambda i: operators[i]) for s in by_local.values() if len(s) > 1]
    if not shared:
        return []
    sizes = np.asarray([len(s) for s in shared], dtype=np.int64)
    flat = np.asarray([i for s in shared for i in s], dtype=np.int64)
    firsts = np.repeat(np.asarray([s[0] for s in shared], dtype=np.int64), sizes)
    near = haversine_m(lat[firsts], lon[firsts], lat[flat], lon[flat]) <= SAME_PLACE_M
    # Copies are nearly always at one spot: only the other local ids are split one by one.
    together = np.logical_and.reduceat(near, np.cumsum(sizes) - sizes)
    groups: list[list[int]] = []
    for stops, one_spot in zip(shared, together.tolist(), strict=True):
        groups += [stops] if one_spot else _split(stops, lat, lon)
    return [g for g in groups if len({operators[i] for i in g}) > 1]


def build_stop_places(
    ids: tuple[str, ...], lat: F64, lon: F64, operators: tuple[str, ...]
) -> StopPlaces:
    """Group the copies of a stop that several operators publish into shared places."""
    by_local: dict[str, list[int]] = defaultdict(list)
    for i, stop_id in enumerate(ids):
        by_local[local_id(stop_id)].append(i)
    groups = _groups(by_local, lat, lon, operators)
    place_ids: list[str] = []
    taken: set[str] = set()
    for group in groups:
        base = PLACE_PREFIX + local_id(ids[group[0]])
        place_id, n = base, 1
        while place_id in taken:  # one local id at two far-apart places
            n += 1
            place_id = f"{base}~{n}"
        taken.add(place_id)
        place_ids.append(place_id)
    sizes = np.asarray([len(g) for g in groups], dtype=np.int64)
    members = np.asarray([i for g in groups for i in g], dtype=np.int32)
    place_of = np.full(len(ids), -1, dtype=np.int32)
    place_of[members] = np.repeat(np.arange(len(groups), dtype=np.int32), sizes)
    return StopPlaces(
        ids=tuple(place_ids),
        index={p: i for i, p in enumerate(place_ids)},
        place_of=place_of,
        member_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        members=members,
        by_local_id={k: tuple(v) for k, v in by_local.items()},
    )


def suggest_stop_ids(places: StopPlaces, stop_ids: tuple[str, ...], wanted: str) -> list[str]:
    """Return the ids meant by an unknown stop id: its place, or the stops with its local id."""
    found = places.by_local_id.get(local_id(wanted), ())
    shared = dict.fromkeys(
        places.ids[int(places.place_of[i])] for i in found if places.place_of[i] >= 0
    )
    return [*shared, *(stop_ids[i] for i in found if stop_ids[i] != wanted)][:10]


def group_found(places: StopPlaces, found: I64) -> list[tuple[int, list[int]]]:
    """Fold search results into entries (place index or -1, stop indices), in found order.

    A place is listed once, where its first stop was found, with every operator's stop
    there; a place of which only one stop is among the results (a search by operator)
    is listed as that stop.
    """
    place_of = places.place_of[found]
    counts = np.bincount(place_of[place_of >= 0], minlength=len(places.ids))
    entries: list[tuple[int, list[int]]] = []
    seen: set[int] = set()
    for stop, place in zip(found.tolist(), place_of.tolist(), strict=True):
        if place < 0 or counts[place] < 2:
            entries.append((-1, [stop]))
        elif place not in seen:
            seen.add(place)
            entries.append((place, places.members_of(place).tolist()))
    return entries
