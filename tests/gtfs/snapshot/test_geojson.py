"""The network as GeoJSON: lines follow shapes where the feed has them, else the stops."""

from __future__ import annotations

import numpy as np

from gtfs.snapshot.build import build_snapshot
from gtfs.snapshot.geojson import network_geojson
from tests.journeys.feeds import trensurb


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
