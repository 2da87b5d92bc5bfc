"""Stops that several operators share become one place; other stops stay their own."""

from __future__ import annotations

import numpy as np

from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import haversine_m
from gtfs.snapshot.stop_places import (
    SAME_PLACE_M,
    build_stop_places,
    local_id,
    suggest_stop_ids,
)
from tests.journeys import feeds


def _kuopio() -> Snapshot:
    return feeds.kuopio_snapshot()


def test_kuopio_split_by_agency_shares_stops_as_places() -> None:
    snap = _kuopio()
    places, stops = snap.places, snap.stops
    assert places.ids, "the Kuopio operators share stops"
    for p, place_id in enumerate(places.ids):
        members = places.members_of(p)
        operators = [stops.operator_ids[i] for i in members]
        assert len(members) >= 2
        assert len(set(operators)) == len(operators), "one stop per operator at a place"
        assert {local_id(stops.ids[i]) for i in members} == {place_id.removeprefix("place:")}
        distance_m = haversine_m(
            np.full(len(members), stops.lat[members[0]]),
            np.full(len(members), stops.lon[members[0]]),
            stops.lat[members],
            stops.lon[members],
        )
        assert distance_m.max() <= SAME_PLACE_M
        assert all(places.place_of[i] == p for i in members)


def test_every_copy_of_a_shared_stop_is_in_its_place() -> None:
    snap = _kuopio()
    places, stops = snap.places, snap.stops
    for i, stop_id in enumerate(stops.ids):
        copies = [j for j in places.by_local_id[local_id(stop_id)] if j != i]
        near = [
            j
            for j in copies
            if haversine_m(stops.lat[[i]], stops.lon[[i]], stops.lat[[j]], stops.lon[[j]])[0]
            <= SAME_PLACE_M
        ]
        if near:
            assert all(places.together(i, j) for j in near), stop_id
        else:
            assert places.place_of[i] == -1 or len(copies) > 0


def test_a_stop_one_operator_alone_serves_is_its_own_place() -> None:
    snap = _kuopio()
    alone = [
        i
        for i, stop_id in enumerate(snap.stops.ids)
        if len(snap.places.by_local_id[local_id(stop_id)]) == 1
    ]
    assert alone
    assert all(snap.places.place_of[i] == -1 for i in alone)
    assert list(snap.places.same_place(alone[0])) == [alone[0]]


def test_copies_far_apart_or_of_one_operator_are_not_grouped() -> None:
    ids = ("a:1", "b:1", "c:1", "a:2", "a:x:2")
    lat = np.asarray([60.0, 60.0, 60.02, 61.0, 61.0])  # c:1 is 2 km from the others
    lon = np.asarray([25.0, 25.00001, 25.0, 25.0, 25.0])
    places = build_stop_places(ids, lat, lon, ("a", "b", "c", "a", "a"))
    assert places.ids == ("place:1",)
    assert [ids[i] for i in places.members_of(0)] == ["a:1", "b:1"]
    assert places.place_of.tolist() == [0, 0, -1, -1, -1]


def test_one_local_id_at_two_places_gets_two_place_ids() -> None:
    ids = ("a:1", "b:1", "c:1", "d:1")
    lat = np.asarray([60.0, 60.0, 62.0, 62.0])
    lon = np.asarray([25.0, 25.0, 25.0, 25.0])
    places = build_stop_places(ids, lat, lon, ("a", "b", "c", "d"))
    assert places.ids == ("place:1", "place:1~2")


def test_an_unknown_id_suggests_the_place_and_the_operators_stops() -> None:
    snap = _kuopio()
    shared = snap.places.ids[0]
    local = shared.removeprefix("place:")
    suggested = suggest_stop_ids(snap.places, snap.stops.ids, local)
    members = [snap.stops.ids[i] for i in snap.places.members_of(0)]
    assert suggested == [shared, *members]
    assert suggest_stop_ids(snap.places, snap.stops.ids, "no-such-stop") == []
    assert suggest_stop_ids(snap.places, snap.stops.ids, f"wrong-operator:{local}")[0] == shared
