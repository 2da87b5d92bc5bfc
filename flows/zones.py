"""Zone systems: the operators' fare zones, H3 cells (resolutions 7 and 8), uploaded districts.

Each system publishes its full list of zones (with an outline and a centroid)
and says, in SQL, which zone a trip record starts and ends in. Every system
has the zone `_other` for trips that fall in none of its zones, so that every
release of a period partitions the same trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import h3
import shapely
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry

from flows.errors import BuiltInZoneSystem, InvalidZones, ZoneSystemExists, ZoneSystemNotFound

OTHER = "_other"
FARE_ZONES = "fare-zones"
BUILT_IN: dict[str, str] = {
    FARE_ZONES: "The operators' GTFS fare zones (stops.zone_id, as operator:zone)",
    "h3-7": "H3 cells of resolution 7 (about 5 km2) that hold a stop",
    "h3-8": "H3 cells of resolution 8 (about 0.7 km2) that hold a stop",
}
#: A fare zone's outline is the hull of its stops widened by this much (degrees, ~300 m).
HULL_MARGIN_DEG = 0.003

# The H3 parent of a resolution-8 cell: resolution field set to 7, digit 8 set to "unused".
_H3_7 = "(({col} & ~(15::bigint << 52)) | (7::bigint << 52) | (7::bigint << 21))"


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone as published: id, name, outline (GeoJSON) and centroid (lon, lat)."""

    id: str
    name: str
    geometry: dict[str, Any] | None
    centroid: tuple[float, float] | None

    def as_json(self) -> dict[str, Any]:
        """Return the zone as plain data."""
        return {
            "id": self.id,
            "name": self.name,
            "geometry": self.geometry,
            "centroid": list(self.centroid) if self.centroid else None,
        }


@dataclass(frozen=True, slots=True)
class Districts:
    """An uploaded district system, ready for point-in-polygon tests."""

    system_id: str
    created_at: datetime
    polygons: tuple[tuple[str, BaseGeometry], ...]


def district_of(districts: Districts, place: Any) -> str:
    """Return the district a place (with `lat` and `lon`) lies in, or `_other`."""
    point = Point(place.lon, place.lat)
    for zone_id, polygon in districts.polygons:
        if polygon.contains(point):
            return zone_id
    return OTHER


def zone_sql(system_id: str) -> tuple[str, str, str]:
    """Return a record's raw origin and destination in a system, and the label of a raw one.

    Grouping runs on the raw values (text or H3 integers); the label template turns a
    grouped value `{x}` into the zone id a release publishes.
    """
    if system_id == FARE_ZONES:
        return "origin_fare", "destination_fare", "{x}"
    if system_id == "h3-8":
        return "origin_h3", "destination_h3", "to_hex({x})"
    if system_id == "h3-7":
        return _H3_7.format(col="origin_h3"), _H3_7.format(col="destination_h3"), "to_hex({x})"
    literal = system_id.replace("'", "")  # ids are validated slugs; this is belt and braces
    return (
        f"coalesce(districts->'{literal}'->>0, '{OTHER}')",
        f"coalesce(districts->'{literal}'->>1, '{OTHER}')",
        "{x}",
    )


_STOPS = """
SELECT s.zone_id, s.stop_lat, s.stop_lon FROM gtfs_stops s
JOIN feed_versions v ON v.id = s.feed_version_id AND v.is_current
WHERE s.stop_lat IS NOT NULL AND s.stop_lon IS NOT NULL
"""


def _fare_zone_name(zone_id: str) -> str:
    operator, _, zone = zone_id.rpartition(":")
    return f"Fare zone {zone} ({operator})" if operator else f"Fare zone {zone}"


async def _fare_zones(conn: asyncpg.Connection | asyncpg.Pool) -> list[Zone]:
    points: dict[str, list[tuple[float, float]]] = {}
    for row in await conn.fetch(_STOPS + " AND s.zone_id IS NOT NULL AND s.zone_id <> ''"):
        points.setdefault(row["zone_id"], []).append((row["stop_lon"], row["stop_lat"]))
    zones = []
    for zone_id in sorted(points):
        # One vectorised call per zone: MultiPoint(list) made a Point object per stop, most of
        # a release's time in Python.
        hull = shapely.multipoints(points[zone_id]).convex_hull.buffer(HULL_MARGIN_DEG)
        centre = hull.centroid
        zones.append(
            Zone(zone_id, _fare_zone_name(zone_id), dict(mapping(hull)), (centre.x, centre.y))
        )
    return zones


async def _h3_zones(conn: asyncpg.Connection | asyncpg.Pool, resolution: int) -> list[Zone]:
    rows = await conn.fetch(_STOPS)
    cells = {h3.latlng_to_cell(r["stop_lat"], r["stop_lon"], resolution) for r in rows}
    zones = []
    for cell in sorted(cells):
        ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]
        lat, lon = h3.cell_to_latlng(cell)
        geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        zones.append(Zone(cell, cell, geometry, (lon, lat)))
    return zones


def _district_zones(stored: list[dict[str, Any]]) -> list[Zone]:
    zones = []
    for item in stored:
        centre = shape(item["geometry"]).representative_point()
        zones.append(Zone(item["id"], item["name"], item["geometry"], (centre.x, centre.y)))
    return zones


async def list_zones(conn: asyncpg.Connection | asyncpg.Pool, system_id: str) -> list[Zone]:
    """Return every zone of a system, `_other` last (ZoneSystemNotFound for an unknown id)."""
    if system_id == FARE_ZONES:
        zones = await _fare_zones(conn)
    elif system_id in ("h3-7", "h3-8"):
        zones = await _h3_zones(conn, int(system_id[-1]))
    else:
        row = await conn.fetchrow("SELECT zones FROM flow_zone_systems WHERE id = $1", system_id)
        if row is None:
            raise ZoneSystemNotFound(f"zone system {system_id!r} does not exist")
        zones = _district_zones(row["zones"])
    return [*zones, Zone(OTHER, "Outside every zone", None, None)]


async def list_zone_systems(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    """Return the built-in systems and the uploaded districts."""
    systems: list[dict[str, Any]] = [
        {"id": key, "name": name, "kind": "built-in", "created_at": None}
        for key, name in BUILT_IN.items()
    ]
    for row in await conn.fetch("SELECT id, name, created_at FROM flow_zone_systems ORDER BY id"):
        systems.append({**dict(row), "kind": "districts"})
    return systems


async def find_zone_system_created(
    conn: asyncpg.Connection | asyncpg.Pool, system_id: str
) -> datetime | None:
    """Return when uploaded districts were created; None for a built-in system."""
    if system_id in BUILT_IN:
        return None
    created: datetime | None = await conn.fetchval(
        "SELECT created_at FROM flow_zone_systems WHERE id = $1", system_id
    )
    if created is None:
        raise ZoneSystemNotFound(f"zone system {system_id!r} does not exist")
    return created


def parse_districts(collection: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate a GeoJSON FeatureCollection of polygons, each with an `id` (InvalidZones)."""
    features = collection.get("features")
    if collection.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise InvalidZones("send a GeoJSON FeatureCollection")
    zones: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        zone_id = str(feature.get("id") or props.get("id") or "")
        try:
            polygon = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, shapely.errors.GeometryTypeError) as exc:
            raise InvalidZones(f"features[{i}]: not a geometry ({exc})") from None
        if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid:
            raise InvalidZones(f"features[{i}]: a district must be a valid (Multi)Polygon")
        if not zone_id or zone_id.startswith("_") or zone_id in seen:
            raise InvalidZones(f"features[{i}]: needs a unique id (not starting with _)")
        seen.add(zone_id)
        name = str(props.get("name") or zone_id)
        zones.append({"id": zone_id, "name": name, "geometry": dict(mapping(polygon))})
    if not zones:
        raise InvalidZones("the collection has no districts")
    return zones


async def create_districts(
    conn: asyncpg.Connection | asyncpg.Pool, system_id: str, name: str, collection: dict[str, Any]
) -> None:
    """Store uploaded districts once (ZoneSystemExists when the id is taken)."""
    if system_id in BUILT_IN:
        raise BuiltInZoneSystem(f"{system_id!r} is built in")
    zones = parse_districts(collection)
    created = await conn.fetchval(
        "INSERT INTO flow_zone_systems (id, name, zones) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING true",
        system_id,
        name,
        zones,
    )
    if not created:
        raise ZoneSystemExists(f"zone system {system_id!r} exists; districts never change")


async def load_districts(conn: asyncpg.Connection | asyncpg.Pool) -> list[Districts]:
    """Return every uploaded district system, prepared for point-in-polygon tests."""
    systems = []
    for row in await conn.fetch("SELECT id, zones, created_at FROM flow_zone_systems"):
        polygons = []
        for zone in row["zones"]:
            polygon = shape(zone["geometry"])
            shapely.prepare(polygon)
            polygons.append((zone["id"], polygon))
        systems.append(Districts(row["id"], row["created_at"], tuple(polygons)))
    return systems
