"""The network as GeoJSON: lines follow shapes where the feed has them, else the stops."""

from __future__ import annotations

import numpy as np

from gtfs.snapshot.build import build_snapshot
from gtfs.snapshot.geojson import network_geojson
from tests.journeys.feeds import kuopio_snapshot, trensurb


def test_lines_follow_the_shapes_and_stops_are_the_served_ones() -> None:
    snap = build_snapshot(trensurb())
    assert len(snap.shapes.ids) > 0
    network = network_geojson(snap, {snap.routes.ids[0]: "FF8000"})
    lines = [f for f in network["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in network["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == len(np.unique(snap.trips.stop))
    shape_points = {
        (round(float(lon), 5), round(float(lat), 5))
        for lat, lon in zip(snap.shapes.lat, snap.shapes.lon, strict=True)
    }
    # Every vertex of every line is a shape point: no line falls back to the stops here.
    assert all(tuple(c) in shape_points for f in lines for c in f["geometry"]["coordinates"])
    coloured = [
        f["properties"]["color"] for f in lines if f["properties"]["id"] == snap.routes.ids[0]
    ]
    assert set(coloured) == {"#FF8000"}
    assert network["service"]["timezone"] == snap.timezone


def test_a_stop_operators_share_is_one_point() -> None:
    snap = kuopio_snapshot()
    points = [f for f in network_geojson(snap, {})["features"] if f["properties"]["kind"] == "stop"]
    served = set(np.unique(snap.trips.stop).tolist())
    listed = [
        sid for f in points for sid in f["properties"].get("stop_ids", [f["properties"]["id"]])
    ]
    assert sorted(listed) == sorted(snap.stops.ids[i] for i in served)
    shared = [f["properties"] for f in points if f["properties"]["id"].startswith("place:")]
    assert shared
    for place in shared:
        assert place["operator_id"] is None
        assert len({sid.split(":")[0] for sid in place["stop_ids"]}) == len(place["stop_ids"]) > 1
