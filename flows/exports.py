"""Downloads of a release: CSV, GeoJSON, Parquet, flowmap.blue and PTV Visum's `$O` matrix.

CSV and Parquet list every cell of the grid, a suppressed one with an empty count
and `suppressed` true. GeoJSON has the zones as polygons and the published flows
as lines between zone centroids. flowmap.blue's layout is a zip of
`locations.csv` and `flows.csv`. A Visum `$O` matrix is one bucket (and mode and
operator when the release breaks them down); its zones are numbered 1..n, named
in the header's comments, and a suppressed cell is -1 (as MDS writes it).
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import orjson

from flows.errors import UnsupportedExport
from flows.ledger import ReleaseData

CSV_COLUMNS = ("origin", "destination", "bucket", "mode", "operator", "count", "suppressed")
SUPPRESSED_VISUM = -1
_PART_HOURS = {
    "night": (0, 6),
    "morning": (6, 10),
    "midday": (10, 15),
    "afternoon": (15, 19),
    "evening": (19, 24),
}


def to_csv(release: ReleaseData) -> bytes:
    """Return every cell as CSV (a suppressed cell has no count)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    get = release.cells.get
    writer.writerows(
        (*cell, "", "true") if (count := get(cell)) is None else (*cell, count, "false")
        for cell in release.grid()
    )
    return out.getvalue().encode()


def to_parquet(release: ReleaseData) -> bytes:
    """Return every cell as a Parquet table (count null when suppressed)."""
    # Imported here, where a download is served: pyarrow is about 34 MiB in every process
    # that loads it, and processes that only import feeds never need it (`gtfs/__init__.py`).
    import pyarrow as pa
    import pyarrow.parquet as pq

    cells = release.every_cell()
    columns: dict[str, Any] = {
        name: pa.array([c[i] for c, _ in cells], pa.string())
        for i, name in enumerate(CSV_COLUMNS[:5])
    }
    columns["count"] = pa.array([n for _, n in cells], pa.int32())
    columns["suppressed"] = pa.array([n is None for _, n in cells], pa.bool_())
    meta = {"release": orjson.dumps(release.metadata, default=str)}
    table = pa.table(columns).replace_schema_metadata(meta)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def to_geojson(release: ReleaseData) -> bytes:
    """Return zones as polygons and published flows as lines between zone centroids."""
    centroids = {z["id"]: z["centroid"] for z in release.zones}
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": f"zone:{z['id']}",
            "geometry": z["geometry"],
            "properties": {"kind": "zone", "zone": z["id"], "name": z["name"]},
        }
        for z in release.zones
        if z["geometry"] is not None
    ]
    for (o, d, b, m, op), count in sorted(release.cells.items()):
        line = None
        if centroids.get(o) and centroids.get(d):
            line = {"type": "LineString", "coordinates": [centroids[o], centroids[d]]}
        features.append(
            {
                "type": "Feature",
                "geometry": line,
                "properties": {
                    "kind": "flow",
                    "origin": o,
                    "destination": d,
                    "bucket": b,
                    "mode": m,
                    "operator": op,
                    "count": count,
                },
            }
        )
    document = {
        "type": "FeatureCollection",
        "release": release.metadata,
        "suppressed": "every cell of zones x zones x buckets x modes x operators that is not a "
        "flow here is suppressed (fewer than k travellers)",
        "features": features,
    }
    return orjson.dumps(document, default=str)


def to_flowmap(release: ReleaseData) -> bytes:
    """Return flowmap.blue's layout: a zip of locations.csv and flows.csv (published flows)."""
    locations, flows = io.StringIO(), io.StringIO()
    loc = csv.writer(locations, lineterminator="\n")
    loc.writerow(["id", "name", "lat", "lon"])
    for z in release.zones:
        if z["centroid"]:
            loc.writerow([z["id"], z["name"], z["centroid"][1], z["centroid"][0]])
    flow = csv.writer(flows, lineterminator="\n")
    flow.writerow(["origin", "dest", "count", "time"])
    for (o, d, b, _m, _op), count in sorted(release.cells.items()):
        flow.writerow([o, d, count, b])
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("locations.csv", locations.getvalue())
        archive.writestr("flows.csv", flows.getvalue())
    return sink.getvalue()


def _only(values: list[str], given: str | None, what: str) -> str:
    if given is not None:
        if given not in values:
            raise UnsupportedExport(f"{what} {given!r} is not one of this release's")
        return given
    if len(values) == 1:
        return values[0]
    raise UnsupportedExport(f"a Visum matrix is one {what}: pass {what}= (one of {values[:6]}...)")


def _hours(bucket_kind: str, bucket: str) -> tuple[int, int]:
    if bucket_kind == "hour":
        return int(bucket), int(bucket) + 1
    if bucket_kind == "part_of_day":
        return _PART_HOURS[bucket]
    return 0, 24


def to_visum(
    release: ReleaseData, bucket: str | None, mode: str | None, operator: str | None
) -> bytes:
    """Return one bucket's OD matrix in PTV Visum's `$O` list format."""
    meta = release.metadata
    chosen = (
        _only(meta["buckets"], bucket, "bucket"),
        _only(meta["modes"], mode, "mode"),
        _only(meta["operators"], operator, "operator"),
    )
    start, end = _hours(meta["bucket"], chosen[0])
    ids = [z["id"] for z in release.zones]
    lines = [
        "$O",
        "* From  To",
        f"{start}.00 {end}.00",
        "* Factor",
        "1.00",
        "*",
        f"* MaaS Gateway release {meta['id']}, period {meta['period']}, zone system "
        f"{meta['zone_system']}, bucket {chosen[0]}, mode {chosen[1]}, operator {chosen[2]}",
        f"* suppressed cells (fewer than {meta['k']} travellers) are {SUPPRESSED_VISUM}",
    ]
    lines += [f"* zone {i} {zone}" for i, zone in enumerate(ids, 1)]
    for i, o in enumerate(ids, 1):
        for j, d in enumerate(ids, 1):
            count = release.cells.get((o, d, *chosen))
            lines.append(f"{i} {j} {SUPPRESSED_VISUM if count is None else count}")
    return ("\n".join(lines) + "\n").encode()


FORMATS: dict[str, str] = {
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
    "flowmap": "application/zip",
    "visum": "text/plain",
}


def export(
    release: ReleaseData,
    fmt: str,
    bucket: str | None = None,
    mode: str | None = None,
    operator: str | None = None,
) -> bytes:
    """Return a release in one of FORMATS."""
    if fmt == "csv":
        return to_csv(release)
    if fmt == "geojson":
        return to_geojson(release)
    if fmt == "parquet":
        return to_parquet(release)
    if fmt == "flowmap":
        return to_flowmap(release)
    if fmt == "visum":
        return to_visum(release, bucket, mode, operator)
    raise UnsupportedExport(f"no download format {fmt!r}")
