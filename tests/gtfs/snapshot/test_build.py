"""The compiled timetable snapshot: service days, patterns, footpaths, transfers, dropped trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gtfs.feed.interpolate import interpolate_tables
from gtfs.feed.read import read_tables
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.snapshot.footpaths import WalkingConfig, haversine_m, neighbour_pairs
from gtfs.tables import concat, operator_of
from tests.journeys import feeds
from tests.journeys.feeds import GTFS, trensurb
from tests.journeys.synthetic import Trip, network


@pytest.fixture(scope="module")
def kuopio_snapshot() -> Snapshot:
    """Return the five Kuopio operators' snapshot (shared with the planner tests)."""
    return feeds.kuopio_snapshot()


@pytest.fixture(scope="module")
def vilnius_snapshot() -> Snapshot:
    """Return the Vilnius snapshot (shared with the planner tests)."""
    return feeds.vilnius_snapshot()


def _active(snap: Snapshot, service_id: str, day: dt.date) -> bool:
    """Return whether a service runs on a date according to the snapshot."""
    column = day.toordinal() - snap.first_day
    if not 0 <= column < snap.service_active.shape[1]:
        return False
    return bool(snap.service_active[snap.service_ids.index(service_id), column])


def test_service_days_follow_calendar_and_exceptions(kuopio_snapshot: Snapshot) -> None:
    weekend = "kuopion-liikenne:Talvikausi_La-Su"
    assert _active(kuopio_snapshot, weekend, dt.date(2016, 12, 24))  # a Saturday
    assert not _active(kuopio_snapshot, weekend, dt.date(2016, 12, 25))  # removed by calendar_dates
    assert not _active(kuopio_snapshot, weekend, dt.date(2016, 12, 27))  # a Tuesday
    assert not _active(kuopio_snapshot, weekend, dt.date(2017, 6, 10))  # after end_date


def test_patterns_hold_trips_with_the_same_stops_sorted_by_first_departure(
    kuopio_snapshot: Snapshot,
) -> None:
    p, t = kuopio_snapshot.patterns, kuopio_snapshot.trips
    assert len(p.trip_ptr) - 1 == len(p.stop_ptr) - 1 > 10
    for pattern in range(len(p.stop_ptr) - 1):
        stops = p.stops[p.stop_ptr[pattern] : p.stop_ptr[pattern + 1]]
        trips = p.trips[p.trip_ptr[pattern] : p.trip_ptr[pattern + 1]]
        firsts = [int(t.departure_s[t.time_ptr[trip]]) for trip in trips]
        assert firsts == sorted(firsts)
        for trip in trips:
            assert np.array_equal(t.stop[t.time_ptr[trip] : t.time_ptr[trip + 1]], stops)
            assert t.pattern[trip] == pattern
    assert len(p.trips) == len(kuopio_snapshot.trips.ids)


def test_direct_footpaths_equal_brute_force_neighbours() -> None:
    snap = build_snapshot(feeds.kuopio_five_operators(), WalkingConfig(max_walk_s=0))
    s, f = snap.stops, snap.footpaths
    for i in range(0, len(s.ids), 37):
        lat, lon = np.full(len(s.lat), s.lat[i]), np.full(len(s.lon), s.lon[i])
        distance_m = haversine_m(lat, lon, s.lat, s.lon)
        expected = set(np.flatnonzero(distance_m <= snap.walking.radius_m).tolist()) - {i}
        assert set(f.to_stop[f.ptr[i] : f.ptr[i + 1]].tolist()) == expected


def test_footpaths_are_the_shortest_paths_over_links_up_to_the_longest_walk(
    kuopio_snapshot: Snapshot,
) -> None:
    f, walking = kuopio_snapshot.footpaths, kuopio_snapshot.walking
    out = [
        dict(
            zip(
                f.to_stop[f.ptr[a] : f.ptr[a + 1]].tolist(),
                f.distance_m[f.ptr[a] : f.ptr[a + 1]].tolist(),
                strict=True,
            )
        )
        for a in range(len(f.ptr) - 1)
    ]
    assert max(f.distance_m) <= walking.max_walk_m
    assert max(f.distance_m) > walking.radius_m
    for a in range(0, len(out), 13):
        for b, ab_m in out[a].items():
            for c, bc_m in out[b].items():
                if c != a and ab_m + bc_m <= walking.max_walk_m:
                    assert out[a][c] <= ab_m + bc_m + 1e-6


def test_footpaths_link_the_five_kuopio_operators(kuopio_snapshot: Snapshot) -> None:
    s, f = kuopio_snapshot.stops, kuopio_snapshot.footpaths
    origin = np.repeat(np.arange(len(s.ids)), np.diff(f.ptr))
    pairs = {(s.operator_ids[a], s.operator_ids[b]) for a, b in zip(origin, f.to_stop, strict=True)}
    assert ("kuopion-liikenne", "pohjolan-liikenne") in pairs
    assert ("linja-karjala", "kuopion-liikenne") in pairs
    assert min(f.duration_s) >= kuopio_snapshot.walking.min_transfer_s


def test_porto_alegre_buses_and_metro_are_linked() -> None:
    eptc, filled = interpolate_tables(read_tables(GTFS / "porto-alegre-eptc.zip", "eptc"))
    assert filled > 0
    snap = build_snapshot(concat([eptc, trensurb()]))
    s, f = snap.stops, snap.footpaths
    origin = np.repeat(np.arange(len(s.ids)), np.diff(f.ptr))
    metro_to_bus = [
        (s.ids[a], s.ids[b], float(d))
        for a, b, d in zip(origin, f.to_stop, f.distance_m, strict=True)
        if operator_of(s.ids[a]) == "trensurb" and operator_of(s.ids[b]) == "eptc"
    ]
    assert len({a for a, _, _ in metro_to_bus}) >= 5  # of the 22 stations
    assert all(d <= snap.walking.max_walk_m for _, _, d in metro_to_bus)


def test_trip_with_a_missing_time_is_dropped_with_a_counted_warning() -> None:
    tables = network(
        [
            Trip("ok", (("A", "08:00"), ("B", "08:05"))),
            Trip("bad", (("A", "09:00"), ("B", "09:05"))),
        ]
    )
    st = tables.stop_times.copy()
    st.loc[st["trip_id"] == "t:bad", ["arrival_s", "departure_s"]] = pd.NA
    snap = build_snapshot(
        type(tables)(**{**{n: getattr(tables, n) for n in tables.table_names()}, "stop_times": st})
    )
    assert snap.warnings == ("dropped 1 trips with missing, unknown or decreasing times",)
    assert snap.trips.pattern[snap.trips.index["t:bad"]] == -1
    assert snap.trips.pattern[snap.trips.index["t:ok"]] >= 0


def test_transfers_txt_overrides_walking_and_transfer_times() -> None:
    tables = network([Trip("ok", (("A", "08:00"), ("C", "08:05")))])
    rules = pd.DataFrame(
        {
            "from_stop_id": ["t:C", "t:C2", "t:A"],
            "to_stop_id": ["t:C2", "t:C", "t:A"],
            "transfer_type": [2, 3, 2],
            "min_transfer_time": [500, pd.NA, 300],
        }
    )
    fields = {n: getattr(tables, n) for n in tables.table_names()}
    snap = build_snapshot(
        type(tables)(**{**fields, "transfers": rules}), WalkingConfig(min_transfer_s=90)
    )
    s, f = snap.stops, snap.footpaths
    c, c2, a = s.index["t:C"], s.index["t:C2"], s.index["t:A"]
    out_of_c = dict(
        zip(
            f.to_stop[f.ptr[c] : f.ptr[c + 1]].tolist(),
            f.duration_s[f.ptr[c] : f.ptr[c + 1]].tolist(),
            strict=True,
        )
    )
    assert out_of_c == {c2: 500}
    assert c not in f.to_stop[f.ptr[c2] : f.ptr[c2 + 1]].tolist()
    assert int(f.transfer_s[a]) == 300
    assert int(f.transfer_s[c]) == 90


@pytest.mark.slow
def test_vilnius_compiles_every_trip_with_its_blocks_and_shapes(vilnius_snapshot: Snapshot) -> None:
    t = vilnius_snapshot.trips
    assert vilnius_snapshot.warnings == ()
    assert len(t.ids) == 23398
    assert (t.pattern >= 0).all()
    assert len(t.stop) == 445217
    assert (t.block >= 0).sum() > 20000
    assert (t.shape >= 0).all()
    assert vilnius_snapshot.timezone == "Europe/Vilnius"


def test_neighbour_pairs_equal_brute_force_across_latitudes_and_skip_missing_points() -> None:
    rng = np.random.default_rng(7)
    centres = rng.uniform([55.0, 20.0], [70.0, 30.0], size=(40, 2))
    points = np.repeat(centres, 25, axis=0) + rng.normal(0, 0.003, size=(1000, 2))
    lat, lon = points[:, 0].copy(), points[:, 1].copy()
    lat[::97] = np.nan
    i, j, d = neighbour_pairs(lat, lon, 400.0)
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    a, b = np.meshgrid(np.arange(1000), np.arange(1000), indexing="ij")
    all_d = haversine_m(lat[a.ravel()], lon[a.ravel()], lat[b.ravel()], lon[b.ravel()])
    close = (all_d <= 400.0) & (a.ravel() != b.ravel())
    expected = set(zip(a.ravel()[close].tolist(), b.ravel()[close].tolist(), strict=True))
    assert found == expected
    assert len(expected) > 1000
    assert np.allclose(d, haversine_m(lat[i], lon[i], lat[j], lon[j]))


def test_each_stops_footpaths_come_shortest_first_and_are_indexed_both_ways(
    kuopio_snapshot: Snapshot,
) -> None:
    f = kuopio_snapshot.footpaths
    origin = np.repeat(np.arange(len(f.ptr) - 1), np.diff(f.ptr))
    for a in range(len(f.ptr) - 1):
        assert (np.diff(f.duration_s[f.ptr[a] : f.ptr[a + 1]]) >= 0).all()
    forward = set(zip(origin.tolist(), f.to_stop.tolist(), f.duration_s.tolist(), strict=True))
    target = np.repeat(np.arange(len(f.in_ptr) - 1), np.diff(f.in_ptr))
    backward = set(zip(f.in_from.tolist(), target.tolist(), f.in_duration_s.tolist(), strict=True))
    assert forward == backward
    assert max(f.duration_s) <= kuopio_snapshot.walking.max_walk_s
