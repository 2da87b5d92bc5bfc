"""The merged network as GeoJSON (RFC 7946): stops as points, each route's paths as lines.

A stop that several operators publish is one point, its shared place (`stop_ids`
lists the operators' stops there).

A route's line follows the shape of its trips where the feed has shapes, else
the stops in order; trips sharing a path are drawn once. Coordinates have 5
decimals (about a metre). The foreign member `service` gives the network's time
zone and first and last service dates, so a map can offer a date with service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.stop_places import group_found


def network_geojson(snap: Snapshot, route_colors: Mapping[str, str]) -> dict[str, Any]:
    """Return a FeatureCollection of the snapshot's routes (lines) and served stops (points)."""
    features = _route_lines(snap, route_colors) + _stop_points(snap)
    n_days = snap.service_active.shape[1]
    first = dt.date.fromordinal(snap.first_day) if n_days else None
    last = first + dt.timedelta(days=n_days - 1) if first else None
    return {
        "type": "FeatureCollection",
        "features": features,
        "service": {
            "timezone": snap.timezone,
            "first_date": first.isoformat() if first else None,
            "last_date": last.isoformat() if last else None,
        },
    }


def _route_lines(snap: Snapshot, route_colors: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return one LineString per distinct (route, path): a pattern's trips may differ in both."""
    p = snap.patterns
    seen: set[tuple[int, int | tuple[int, ...]]] = set()
    out = []
    for pattern in range(len(p.trip_ptr) - 1):
        trips = p.trips[p.trip_ptr[pattern] : p.trip_ptr[pattern + 1]]
        stops = p.stops[p.stop_ptr[pattern] : p.stop_ptr[pattern + 1]]
        routes_shapes = np.column_stack([snap.trips.route[trips], snap.trips.shape[trips]])
        for route, shape in np.unique(routes_shapes, axis=0).tolist():
            path: int | tuple[int, ...] = shape if shape >= 0 else tuple(stops.tolist())
            if (route, path) in seen:
                continue
            seen.add((route, path))
            if shape >= 0:
                lo, hi = snap.shapes.ptr[shape], snap.shapes.ptr[shape + 1]
                lat, lon = snap.shapes.lat[lo:hi], snap.shapes.lon[lo:hi]
            else:
                lat, lon = snap.stops.lat[stops], snap.stops.lon[stops]
            out.append(_route_feature(snap, route, _coordinates(lat, lon), route_colors))
    return out


def _route_feature(
    snap: Snapshot, route: int, coordinates: list[list[float]], route_colors: Mapping[str, str]
) -> dict[str, Any]:
    """Return the line of one route's path, with the route's name, operator and colour."""
    route_id = snap.routes.ids[route]
    return _feature(
        {"type": "LineString", "coordinates": coordinates},
        kind="route",
        id=route_id,
        name=snap.routes.short_names[route] or snap.routes.long_names[route],
        operator_id=snap.routes.operator_ids[route],
        route_type=int(snap.routes.route_type[route]),
        color="#" + route_colors[route_id] if route_colors.get(route_id) else None,
    )


def _stop_points(snap: Snapshot) -> list[dict[str, Any]]:
    """Return a Point per served stop; a stop several operators share is one point, its place."""
    s = snap.stops
    points = []
    for place, stops in group_found(snap.places, np.unique(snap.trips.stop).astype(np.int64)):
        i = stops[0]
        shared = {"stop_ids": [s.ids[j] for j in stops]} if place >= 0 else {}
        points.append(
            _feature(
                {
                    "type": "Point",
                    "coordinates": [round(float(s.lon[i]), 5), round(float(s.lat[i]), 5)],
                },
                kind="stop",
                id=snap.places.ids[place] if place >= 0 else s.ids[i],
                name=s.names[i],
                operator_id=s.operator_ids[i] if place < 0 else None,
                **shared,
            )
        )
    return points


def _coordinates(lat: np.ndarray, lon: np.ndarray) -> list[list[float]]:
    """Return [lon, lat] pairs (GeoJSON order), rounded to 5 decimals."""
    return np.round(np.column_stack([lon, lat]), 5).tolist()  # type: ignore[no-any-return]


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}
