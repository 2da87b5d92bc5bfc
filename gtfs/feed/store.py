"""Feed versions in PostgreSQL: stored with COPY, made current atomically, read back fast.

A new version is copied in and made current in one transaction, so readers see
the old feed until the commit and the new one after; a feed whose SHA-256 is
already current changes nothing. Every change notifies `TIMETABLE_CHANNEL`.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson
import pandas as pd

from gtfs.feed.prepare import PreparedFeed
from gtfs.tables import COLUMNS, GtfsTables

TIMETABLE_CHANNEL = "maas_timetable"
#: Versions whose tables are kept per operator (the current one and the one before).
KEEP_VERSIONS = 2
COPY_CHUNK_ROWS = 20_000

#: SQL kinds of the columns that are not text.
_KINDS: dict[str, str] = {
    "stop_lat": "float",
    "stop_lon": "float",
    "shape_pt_lat": "float",
    "shape_pt_lon": "float",
    "shape_dist_traveled": "float",
    "start_date": "date",
    "end_date": "date",
    "date": "date",
} | {
    c: "int"
    for c in (
        "location_type",
        "wheelchair_boarding",
        "route_type",
        "direction_id",
        "wheelchair_accessible",
        "stop_sequence",
        "arrival_s",
        "departure_s",
        "pickup_type",
        "drop_off_type",
        "timepoint",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "exception_type",
        "transfer_type",
        "min_transfer_time",
        "shape_pt_sequence",
    )
}
_READ_DTYPES = {"int": "Int32", "float": "Float64", "date": "string"}


class UnknownOperator(LookupError):
    """The operator does not exist."""


@dataclass(frozen=True, slots=True)
class StoredFeed:
    """What storing a feed did: the version now current, and whether anything changed."""

    version_id: int
    changed: bool
    created: bool


@dataclass(frozen=True, slots=True)
class FeedVersion:
    """One stored feed version of an operator."""

    id: int
    operator_id: str
    sha256: str
    created_at: datetime
    activated_at: datetime | None
    status: str
    is_current: bool
    warnings: dict[str, Any]
    counts: dict[str, int]
    service_dates: list[date]


def _column_values(series: pd.Series, kind: str) -> list[Any]:
    """Return a column as Python values for asyncpg's binary COPY (NA as None)."""
    values: pd.Series[Any]
    if kind == "int":
        values = pd.to_numeric(series, errors="coerce").astype("Int64")
    elif kind == "float":
        values = pd.to_numeric(series, errors="coerce").astype("Float64")
    elif kind == "date":
        values = pd.to_datetime(series.astype("string"), format="%Y%m%d", errors="coerce").dt.date
    else:
        values = series.astype("string")
    return values.astype(object).where(values.notna(), None).tolist()


def table_records(version_id: int, table: str, df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Return a table's rows as tuples, the feed version first, in `COLUMNS` order."""
    columns = [_column_values(df[c], _KINDS.get(c, "text")) for c in COLUMNS[table]]
    return list(zip(itertools.repeat(version_id, len(df)), *columns, strict=False))


def iter_table_records(
    version_id: int, table: str, df: pd.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS
) -> Iterator[tuple[Any, ...]]:
    """Yield a table's rows as tuples a chunk at a time (COPY streams; memory stays flat)."""
    for start in range(0, len(df), chunk_rows):
        yield from table_records(version_id, table, df.iloc[start : start + chunk_rows])


async def store_feed(pool: asyncpg.Pool, feed: PreparedFeed) -> StoredFeed:
    """Store a prepared feed and make it current (or do nothing if it already is)."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await conn.fetchval(
            "SELECT id FROM operators WHERE id = $1 FOR UPDATE", feed.operator_id
        )
        if locked is None:
            raise UnknownOperator(feed.operator_id)
        same = await conn.fetchrow(
            "SELECT id, is_current FROM feed_versions WHERE operator_id = $1 AND sha256 = $2"
            " AND status = 'ready' ORDER BY id DESC LIMIT 1",
            feed.operator_id,
            feed.sha256,
        )
        if same is not None and same["is_current"]:
            return StoredFeed(same["id"], changed=False, created=False)
        version_id = same["id"] if same is not None else await _copy_in(conn, feed)
        await _make_current(conn, feed.operator_id, version_id)
    await prune_versions(pool, feed.operator_id)
    return StoredFeed(version_id, changed=True, created=same is None)


async def _copy_in(conn: asyncpg.Connection, feed: PreparedFeed) -> int:
    """Insert a version row and COPY its tables; return the version id."""
    version_id: int = await conn.fetchval(
        "INSERT INTO feed_versions (operator_id, sha256, status, warnings, counts, service_dates)"
        " VALUES ($1, $2, 'ready', $3::text::jsonb, $4::text::jsonb, $5) RETURNING id",
        feed.operator_id,
        feed.sha256,
        orjson.dumps(feed.warnings_json()).decode(),
        orjson.dumps(feed.counts()).decode(),
        list(feed.service_dates),
    )
    for table in feed.tables.table_names():
        df = getattr(feed.tables, table)
        if len(df):
            await conn.copy_records_to_table(
                f"gtfs_{table}",
                records=iter_table_records(version_id, table, df),
                columns=["feed_version_id", *COLUMNS[table]],
            )
    return version_id


async def _make_current(conn: asyncpg.Connection, operator_id: str, version_id: int) -> None:
    """Swap the current flag to `version_id` and tell every gateway process."""
    await conn.execute(
        "UPDATE feed_versions SET is_current = false WHERE operator_id = $1 AND is_current",
        operator_id,
    )
    await conn.execute(
        "UPDATE feed_versions SET is_current = true, activated_at = now() WHERE id = $1",
        version_id,
    )
    await conn.execute("SELECT pg_notify($1, $2)", TIMETABLE_CHANNEL, str(version_id))


async def prune_versions(pool: asyncpg.Pool, operator_id: str, keep: int = KEEP_VERSIONS) -> int:
    """Delete the tables of an operator's versions older than the `keep` newest; return how many."""
    old = await pool.fetch(
        "SELECT id FROM feed_versions WHERE operator_id = $1 AND status = 'ready'"
        " AND NOT is_current ORDER BY activated_at DESC NULLS LAST, id DESC OFFSET $2",
        operator_id,
        keep - 1,
    )
    for row in old:
        async with pool.acquire() as conn, conn.transaction():
            for table in COLUMNS:
                await conn.execute(
                    f"DELETE FROM gtfs_{table} WHERE feed_version_id = $1", row["id"]
                )
            await conn.execute(
                "UPDATE feed_versions SET status = 'pruned' WHERE id = $1", row["id"]
            )
    return len(old)


async def list_feed_versions(pool: asyncpg.Pool, operator_id: str) -> list[FeedVersion]:
    """Return an operator's feed versions, newest first."""
    rows = await pool.fetch(
        "SELECT id, operator_id, sha256, created_at, activated_at, status, is_current,"
        " warnings::text AS warnings, counts::text AS counts,"
        " coalesce(service_dates, '{}') AS service_dates FROM feed_versions"
        " WHERE operator_id = $1 ORDER BY id DESC",
        operator_id,
    )
    return [
        FeedVersion(**(dict(r) | {k: orjson.loads(r[k]) for k in ("warnings", "counts")}))
        for r in rows
    ]


async def current_version_ids(pool: asyncpg.Pool) -> tuple[int, ...]:
    """Return the ids of every operator's current version (what a snapshot is built from)."""
    rows = await pool.fetch("SELECT id FROM feed_versions WHERE is_current ORDER BY id")
    return tuple(r["id"] for r in rows)


async def load_current_tables(pool: asyncpg.Pool) -> GtfsTables:
    """Read every operator's current feed back as one `GtfsTables`."""
    return (await load_current(pool))[1]


async def load_current(pool: asyncpg.Pool) -> tuple[tuple[int, ...], GtfsTables]:
    """Return (current version ids, their tables) read in one consistent transaction."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        versions = tuple(
            r["id"] for r in await conn.fetch("SELECT id FROM feed_versions WHERE is_current")
        )
        tables = {name: await _copy_out(conn, name) for name in COLUMNS}
    return tuple(sorted(versions)), GtfsTables(**tables)


async def load_version_tables(
    pool: asyncpg.Pool, version_id: int, names: Collection[str]
) -> GtfsTables:
    """Read some tables of one stored feed version back (the others come out empty)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        read = {name: await _copy_out(conn, name, version_id) for name in names}
    return replace(GtfsTables.empty(), **read)


async def _copy_out(
    conn: asyncpg.Connection, table: str, version_id: int | None = None
) -> pd.DataFrame:
    """COPY one table of the current versions (or of one version) out as CSV, parse it."""
    columns = COLUMNS[table]
    select = ", ".join(
        f"to_char(t.{c}, 'YYYYMMDD')" if _KINDS.get(c) == "date" else f"t.{c}" for c in columns
    )
    query = (
        f"SELECT {select} FROM gtfs_{table} t JOIN feed_versions v"
        " ON v.id = t.feed_version_id WHERE "
        + ("v.is_current" if version_id is None else "v.id = $1")
    )
    args = () if version_id is None else (version_id,)
    buffer = io.BytesIO()
    await conn.copy_from_query(query, *args, output=buffer, format="csv", header=False)
    buffer.seek(0)
    dtypes = {c: _READ_DTYPES.get(_KINDS.get(c, "text"), "string") for c in columns}
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes.items()})
    # Text read as categories first: each distinct id becomes one string that every row
    # shares (stop_times repeats a trip's id at each of its stops), not one per row.
    read_as = {c: "category" if d == "string" else d for c, d in dtypes.items()}
    frame = pd.read_csv(
        buffer, names=list(columns), dtype=read_as, keep_default_na=False, na_values=[""]
    )
    for column, dtype in dtypes.items():
        if dtype == "string":
            frame[column] = frame[column].astype("string")
    return frame
