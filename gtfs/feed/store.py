"""Feed versions in PostgreSQL: stored with COPY, made current atomically, read back fast.

A new version is copied in and made current in one transaction, so readers see
the old feed until the commit and the new one after; a feed whose SHA-256 is
already current changes nothing. Every change notifies `TIMETABLE_CHANNEL`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import asyncpg
import numpy as np
import orjson
import pandas as pd

from gtfs.feed.prepare import PreparedFeed
from gtfs.tables import COLUMNS, GtfsTables

TIMETABLE_CHANNEL = "maas_timetable"
#: Versions whose tables are kept per operator (the current one and the one before).
KEEP_VERSIONS = 2
#: Rows per CSV chunk written for COPY (formatted in a thread, a chunk ahead of the COPY).
CSV_CHUNK_ROWS = 50_000
#: How long one statement of storing or reading a feed may take: a national feed's
#: stop_times (tens of millions of rows) runs for minutes, far past a pool's command_timeout.
FEED_TIMEOUT_S = 3600.0

#: Told (table, rows stored so far, rows of the table) as each chunk of a table is formatted.
StoreProgress = Callable[[str, int, int], None]

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
#: The primary key after the feed version, of the tables large enough for its order to
#: matter to the COPY (`key_order`).
_KEY_ORDER = {
    "stop_times": ("trip_id", "stop_sequence"),
    "shapes": ("shape_id", "shape_pt_sequence"),
}
#: Characters that make a CSV cell quoted (as Python's csv module, which `to_csv` uses).
_CSV_SPECIAL = (",", '"', "\n", "\r")


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


def _csv_column(series: pd.Series, kind: str) -> pd.Series:
    """Return a column as COPY's CSV reads it (NA becomes an empty, unquoted cell: NULL)."""
    if kind == "int":
        return pd.to_numeric(series, errors="coerce").astype("Int64")
    if kind == "float":
        return pd.to_numeric(series, errors="coerce").astype("Float64")
    if kind == "date":
        days = pd.to_datetime(series.astype("string"), format="%Y%m%d", errors="coerce")
        return days.dt.strftime("%Y-%m-%d")
    return series.astype("string")


def csv_chunks(
    version_id: int,
    table: str,
    df: pd.DataFrame,
    progress: StoreProgress | None = None,
    chunk_rows: int = CSV_CHUNK_ROWS,
) -> Iterator[bytes]:
    """Yield a table's rows as CSV for COPY, the feed version first (blocking: in a thread).

    A blank text cell is stored as NULL, as gtfs-kit reads it anyway. The rows of
    stop_times and shapes go in the order of their primary key (`key_order`).
    """
    columns = COLUMNS[table]
    prefix = f"{version_id},"
    order = key_order(df, _KEY_ORDER[table]) if table in _KEY_ORDER else None
    for start in range(0, len(df), chunk_rows):
        rows = slice(start, start + chunk_rows)
        part = df.iloc[rows] if order is None else df.take(order[rows])
        cells = [_csv_cells(part[c], _KINDS.get(c, "text")) for c in columns]
        yield "".join([prefix + ",".join(row) + "\n" for row in zip(*cells, strict=True)]).encode()
        if progress is not None:
            progress(table, min(start + chunk_rows, len(df)), len(df))


def key_order(df: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Return the row order that sorts a table by `key` (text as PostgreSQL's C collation).

    COPYed in that order, each row's primary-key entry goes to the right end of the index
    instead of anywhere in it: a city feed's stop_times COPY took a third less time
    (feeds list their trips in their own order, "1", "2", ..., "10", not the key's). Python
    compares text by code point, as the C and C.UTF-8 collations do; under another, the
    rows are merely less in order.
    """
    keys = []
    for column in reversed(key):  # lexsort: the last key is the first
        if _KINDS.get(column) == "int":
            number = pd.to_numeric(df[column], errors="coerce").astype("Float64")
            keys.append(number.to_numpy(dtype=np.float64, na_value=np.nan))
            continue
        codes, uniques = pd.factorize(df[column])
        rank = np.empty(len(uniques), dtype=np.int64)
        rank[np.argsort(np.asarray(uniques, dtype=object), kind="stable")] = np.arange(len(uniques))
        keys.append(np.where(codes >= 0, rank[codes], -1))
    return np.lexsort(keys)


def _csv_cells(series: pd.Series, kind: str) -> list[str]:
    """Return a column's CSV cells, each distinct value converted and formatted once.

    A column holds few distinct values (vilnius.zip: 1,371 times for 890,000 cells), and
    pandas' `to_csv` formatted every cell again: this is a third of its time. The cells
    are as `to_csv` writes them (quoted where they hold a comma, a quote or a line break;
    NA empty, which COPY reads as NULL).
    """
    codes, uniques = pd.factorize(series)
    values = _csv_column(pd.Series(uniques), kind)
    texts = [
        "" if missing else _csv_cell(v)
        for v, missing in zip(values.astype(object).tolist(), values.isna().tolist(), strict=True)
    ]
    return np.array([*texts, ""], dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def _csv_cell(value: object) -> str:
    """Return one value (not NA) as a CSV cell."""
    text = str(value)
    if any(c in text for c in _CSV_SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Yield what a blocking iterator yields, each next one made in a thread while COPY sends."""
    pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, b""))
    try:
        while chunk := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, b""))
            yield chunk
    finally:
        if not pending.done():
            await asyncio.shield(pending)  # the thread runs on: let it end before the generator


async def store_feed(
    pool: asyncpg.Pool, feed: PreparedFeed, progress: StoreProgress | None = None
) -> StoredFeed:
    """Store a prepared feed and make it current (or do nothing if it already is).

    The rows are formatted off the event loop, a chunk at a time (`progress` is told each
    one, from that thread), and no statement is bound by the pool's command_timeout.
    """
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
        version_id = same["id"] if same is not None else await _copy_in(conn, feed, progress)
        await _make_current(conn, feed.operator_id, version_id)
    await prune_versions(pool, feed.operator_id)
    return StoredFeed(version_id, changed=True, created=same is None)


async def _copy_in(
    conn: asyncpg.Connection, feed: PreparedFeed, progress: StoreProgress | None
) -> int:
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
            await conn.copy_to_table(
                f"gtfs_{table}",
                source=_in_thread(csv_chunks(version_id, table, df, progress)),
                columns=["feed_version_id", *COLUMNS[table]],
                format="csv",
                timeout=FEED_TIMEOUT_S,
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
                    f"DELETE FROM gtfs_{table} WHERE feed_version_id = $1",
                    row["id"],
                    timeout=FEED_TIMEOUT_S,
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
    await conn.copy_from_query(
        query, *args, output=buffer, format="csv", header=False, timeout=FEED_TIMEOUT_S
    )
    return await asyncio.to_thread(_parse_copied, buffer, columns)


def _parse_copied(buffer: io.BytesIO, columns: tuple[str, ...]) -> pd.DataFrame:
    """Parse a table COPYed out as CSV (blocking: millions of rows take seconds)."""
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
