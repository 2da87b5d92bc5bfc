"""Zone systems: fare zones, H3 cells and uploaded districts, each with its full zone list."""

from __future__ import annotations

import uuid

import asyncpg
import h3
import pytest

from flows.errors import BuiltInZoneSystem, InvalidZones, ZoneSystemTooNew
from flows.ledger import load_release
from flows.records import Place
from flows.releases import ReleaseRequest, create_release
from flows.zones import OTHER, create_districts, district_of, list_zones, load_districts
from tests.flows.support import TEST_CONFIG, at, crowd, places_by_zone, record_all, unique_period


def _square(lat: float, lon: float, half: float = 0.01) -> list[list[list[float]]]:
    return [
        [
            [lon - half, lat - half],
            [lon + half, lat - half],
            [lon + half, lat + half],
            [lon - half, lat + half],
            [lon - half, lat - half],
        ]
    ]


def _districts(*centres: tuple[str, Place]) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": name,
                "geometry": {"type": "Polygon", "coordinates": _square(p.lat, p.lon)},
            }
            for name, p in centres
        ],
    }


async def test_every_system_lists_its_zones_and_other(db: asyncpg.Pool, kuopio_demo: str) -> None:
    fare = await list_zones(db, "fare-zones")
    assert {"kuopion-liikenne:A", "linja-karjala:B"} <= {z.id for z in fare}
    for system, resolution in (("h3-7", 7), ("h3-8", 8)):
        zones = await list_zones(db, system)
        assert zones[-1].id == OTHER
        assert all(h3.get_resolution(z.id) == resolution for z in zones[:-1])
        assert all(z.geometry and z.geometry["type"] == "Polygon" for z in zones[:-1])
    assert len(await list_zones(db, "h3-8")) > len(await list_zones(db, "h3-7"))


async def test_trips_carry_their_district_and_a_district_release_counts_them(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    system = f"d-{uuid.uuid4().hex[:6]}"
    await create_districts(
        db, system, "Test", _districts(("home", places["A"]), ("work", places["B"]))
    )
    # Uploaded long ago, as a city's districts would be: older than the period released.
    await db.execute(
        "UPDATE flow_zone_systems SET created_at = '1800-01-01T00:00Z' WHERE id = $1", system
    )
    (districts,) = [d for d in await load_districts(db) if d.system_id == system]
    assert district_of(districts, places["A"]) == "home"
    assert district_of(districts, places["C"]) == OTHER
    period = unique_period()
    await record_all(db, crowd("dist", 11, places["A"], places["B"], at(period, 2, 8)))
    ask = ReleaseRequest(period, system, "day")
    release = await load_release(db, await create_release(db, ask, "t", TEST_CONFIG))
    assert release.cells == {("home", "work", f"{period}-02", "*", "*"): 11}
    assert [z["id"] for z in release.zones] == ["home", "work", OTHER]


async def test_districts_newer_than_the_period_cannot_be_released(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    system = f"d-{uuid.uuid4().hex[:6]}"
    await create_districts(db, system, "New", _districts(("x", places["A"])))
    period = unique_period()
    await record_all(db, crowd("new", 10, places["A"], places["B"], at(period, 2, 8)))
    with pytest.raises(ZoneSystemTooNew):
        await create_release(db, ReleaseRequest(period, system, "day"), "t", TEST_CONFIG)


async def test_uploads_must_be_polygons_with_ids_and_not_replace_built_ins(
    db: asyncpg.Pool,
) -> None:
    point = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "p", "geometry": {"type": "Point", "coordinates": [27, 62]}}
        ],
    }
    with pytest.raises(InvalidZones):
        await create_districts(db, f"d-{uuid.uuid4().hex[:6]}", "Bad", point)
    no_id = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": _square(62.9, 27.7)}}
        ],
    }
    with pytest.raises(InvalidZones):
        await create_districts(db, f"d-{uuid.uuid4().hex[:6]}", "Bad", no_id)
    with pytest.raises(BuiltInZoneSystem):
        await create_districts(db, "h3-8", "Mine", no_id)
