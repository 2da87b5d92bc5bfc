"""Every download parses back to the release's numbers."""

from __future__ import annotations

import csv
import io
import zipfile

import asyncpg
import orjson
import pyarrow.parquet as pq
import pytest

from flows.aggregate import Cell
from flows.errors import UnsupportedExport
from flows.exports import export
from flows.ledger import ReleaseData, load_release
from flows.releases import ReleaseRequest, create_release
from tests.flows.support import TEST_CONFIG, at, crowd, places_by_zone, record_all, unique_period


@pytest.fixture
async def release(db: asyncpg.Pool, kuopio_demo: str) -> ReleaseData:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("x", 12, places["A"], places["B"], at(period, 2, 8)))
    await record_all(db, crowd("y", 15, places["B"], places["C"], at(period, 3, 17)))
    await record_all(db, crowd("z", 4, places["C"], places["A"], at(period, 3, 17)))
    ask = ReleaseRequest(period, "fare-zones", "part_of_day")
    return await load_release(db, await create_release(db, ask, "t", TEST_CONFIG))


def _published(cells: dict[Cell, int | None]) -> dict[Cell, int]:
    return {cell: n for cell, n in cells.items() if n is not None}


def test_csv_lists_every_cell_and_parses_back(release: ReleaseData) -> None:
    rows = list(csv.DictReader(io.StringIO(export(release, "csv").decode())))
    assert len(rows) == release.metadata["cells_total"]
    cells: dict[Cell, int | None] = {
        (r["origin"], r["destination"], r["bucket"], r["mode"], r["operator"]): (
            int(r["count"]) if r["count"] else None
        )
        for r in rows
    }
    assert _published(cells) == release.cells
    assert all(r["suppressed"] == ("true" if not r["count"] else "false") for r in rows)
    assert len(release.cells) == 2


def test_parquet_parses_back(release: ReleaseData) -> None:
    table = pq.read_table(io.BytesIO(export(release, "parquet")))
    assert table.num_rows == release.metadata["cells_total"]
    data = table.to_pylist()
    cells: dict[Cell, int | None] = {
        (r["origin"], r["destination"], r["bucket"], r["mode"], r["operator"]): r["count"]
        for r in data
    }
    assert _published(cells) == release.cells
    assert all(r["suppressed"] == (r["count"] is None) for r in data)
    meta = orjson.loads(table.schema.metadata[b"release"])
    assert meta["id"] == str(release.metadata["id"])


def test_geojson_has_zones_and_flows_between_centroids(release: ReleaseData) -> None:
    doc = orjson.loads(export(release, "geojson"))
    zones = {
        f["properties"]["zone"]: f for f in doc["features"] if f["properties"]["kind"] == "zone"
    }
    flows = [f for f in doc["features"] if f["properties"]["kind"] == "flow"]
    assert len(zones) == len(release.zones) - 1  # _other has no outline
    assert all(z["geometry"]["type"] == "Polygon" for z in zones.values())
    parsed = {
        (p["origin"], p["destination"], p["bucket"], p["mode"], p["operator"]): p["count"]
        for p in (f["properties"] for f in flows)
    }
    assert parsed == release.cells
    centroids = {z["id"]: z["centroid"] for z in release.zones}
    for f in flows:
        start, end = f["geometry"]["coordinates"]
        assert start == centroids[f["properties"]["origin"]]
        assert end == centroids[f["properties"]["destination"]]


def test_flowmap_zip_has_locations_and_flows(release: ReleaseData) -> None:
    with zipfile.ZipFile(io.BytesIO(export(release, "flowmap"))) as archive:
        locations = list(csv.DictReader(io.StringIO(archive.read("locations.csv").decode())))
        flows = list(csv.DictReader(io.StringIO(archive.read("flows.csv").decode())))
    ids = {row["id"] for row in locations}
    assert all(row["origin"] in ids and row["dest"] in ids for row in flows)
    assert {(r["origin"], r["dest"], r["time"]): int(r["count"]) for r in flows} == {
        (o, d, b): n for (o, d, b, _m, _op), n in release.cells.items()
    }


def _parse_visum(text: str) -> tuple[str, dict[tuple[str, str], int]]:
    lines = text.splitlines()
    assert lines[0] == "$O"
    interval = lines[2]
    numbers = {
        parts[2]: parts[3]
        for parts in (line.split() for line in lines)
        if parts[:2] == ["*", "zone"]
    }
    values = {}
    for line in lines:
        if line and not line.startswith(("*", "$")) and line.count(" ") == 2:
            i, j, value = line.split()
            values[(numbers[i], numbers[j])] = int(value)
    return interval, values


def test_visum_matrix_parses_back_one_bucket(release: ReleaseData) -> None:
    with pytest.raises(UnsupportedExport):
        export(release, "visum")  # five buckets: which one?
    interval, values = _parse_visum(export(release, "visum", bucket="afternoon").decode())
    assert interval == "15.00 19.00"
    zones = len(release.zones)
    assert len(values) == zones * zones
    published = {(o, d): n for (o, d, b, _m, _op), n in release.cells.items() if b == "afternoon"}
    assert {od: n for od, n in values.items() if n != -1} == published
    assert sum(n == -1 for n in values.values()) == zones * zones - len(published)
