"""Operators' published fares: stored versions in PostgreSQL, parsed feeds cached per process.

Fares are always matched against the operator's current stored timetable: its calendar,
stations, stop time zones, route networks and agency time zone. The cache reloads an
operator's fares when either its fares or its timetable change.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import asyncpg

from gtfs.feed.store import load_version_tables
from gtfs.tables import GtfsTables
from operators.fares.archive import read_zip_members
from operators.fares.coverage import coverage_warnings
from operators.fares.csvfiles import FARE_FILES
from operators.fares.loader import load_fares
from operators.fares.model import FareFeed, FareIssue, FaresValidationError
from sales.cache import Cache

log = logging.getLogger(__name__)

#: The timetable tables fares refer to (trips and stop times are not needed to price).
CONTEXT_TABLES = ("agency", "stops", "routes", "calendar", "calendar_dates")


@dataclass(frozen=True, slots=True)
class FareVersion:
    """A stored fares upload."""

    id: int
    operator_id: str
    sha256: str
    product_count: int
    created: bool
    warnings: tuple[FareIssue, ...] = ()
    #: How many warnings in all (`warnings` lists the first of the fares' own).
    warning_total: int = 0


def zip_files(files: Mapping[str, bytes]) -> bytes:
    """Pack fare files into a zip, in a stable order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), files[name])
    return buffer.getvalue()


def fare_files_of(archive: bytes | Path) -> dict[str, bytes] | None:
    """Return the Fares v2 files of a GTFS zip, or None (the timetable is stored apart)."""
    files = read_zip_members(archive)
    if "fare_products.txt" not in files:
        return None
    return {name: data for name, data in files.items() if name in FARE_FILES}


async def current_timetable(pool: asyncpg.Pool, operator_id: str) -> GtfsTables | None:
    """Return the tables fares refer to in the operator's current timetable, or None."""
    version_id = await pool.fetchval(
        "SELECT id FROM feed_versions WHERE operator_id = $1 AND is_current", operator_id
    )
    return (
        None if version_id is None else await load_version_tables(pool, version_id, CONTEXT_TABLES)
    )


async def store_fares(
    pool: asyncpg.Pool, operator_id: str, archive: bytes, timezone: str
) -> FareVersion:
    """Validate a fares zip against the operator's current timetable and make it current.

    Raises `FaresValidationError`; `timezone` (the operator's) counts only when the operator
    has no timetable yet: fares use the feed's agency time zone.
    """
    timetable = await current_timetable(pool, operator_id)
    feed = await check_fares(archive, operator_id, timezone, timetable)
    version = await save_fares(pool, operator_id, archive, feed)
    warnings, total = fares_warnings(feed, timetable)
    return replace(version, warnings=tuple(warnings), warning_total=total)


def fares_warnings(feed: FareFeed, timetable: GtfsTables | None) -> tuple[list[FareIssue], int]:
    """Return the warnings listed for fares and the timetable they price, and their total."""
    extra = [] if timetable is None else coverage_warnings(feed, timetable)
    return [*feed.warnings, *extra], feed.warning_total + len(extra)


async def check_fares(
    archive: bytes,
    operator_id: str,
    timezone: str | None,
    timetable: GtfsTables | None = None,
    *,
    strict: bool = True,
) -> FareFeed:
    """Load and validate a fares zip off the event loop (raises `FaresValidationError`).

    Not `strict`: references the timetable no longer has are warnings (stored fares read
    against a newer timetable still price what they can).
    """
    load = partial(load_fares, timezone=timezone, timetable=timetable, strict_timetable=strict)
    return await asyncio.to_thread(load, archive, operator_id)


async def timetable_change_warnings(
    pool: asyncpg.Pool, operator_id: str, timezone: str, timetable: GtfsTables
) -> tuple[list[FareIssue], int]:
    """Return what the operator's current fares no longer cover in a new timetable.

    The first warnings, and how many there are in all (as `fares_warnings`).
    """
    archive = await pool.fetchval(
        "SELECT files FROM fare_versions WHERE operator_id = $1 AND is_current", operator_id
    )
    if archive is None:
        return [], 0
    feed = await check_fares(bytes(archive), operator_id, timezone, timetable, strict=False)
    extra = coverage_warnings(feed, timetable)
    return [*feed.timetable_warnings, *extra], feed.timetable_warning_total + len(extra)


async def save_fares(
    pool: asyncpg.Pool, operator_id: str, archive: bytes, feed: FareFeed
) -> FareVersion:
    """Make a validated fares zip the operator's current fares (the same zip again: no change)."""
    sha = hashlib.sha256(archive).hexdigest()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('fares:' || $1))", operator_id)
        row = await conn.fetchrow(
            "SELECT id, is_current FROM fare_versions WHERE operator_id = $1 AND sha256 = $2",
            operator_id,
            sha,
        )
        if row is not None and row["is_current"]:
            return FareVersion(row["id"], operator_id, sha, len(feed.products), created=False)
        await conn.execute(
            "UPDATE fare_versions SET is_current = false WHERE operator_id = $1 AND is_current",
            operator_id,
        )
        if row is not None:
            await conn.execute(
                "UPDATE fare_versions SET is_current = true WHERE id = $1", row["id"]
            )
            return FareVersion(row["id"], operator_id, sha, len(feed.products), created=False)
        version_id = await conn.fetchval(
            """INSERT INTO fare_versions
                   (operator_id, sha256, files, warnings, product_count, is_current)
               VALUES ($1, $2, $3, $4, $5, true) RETURNING id""",
            operator_id,
            sha,
            archive,
            [w.as_dict() for w in feed.warnings],
            len(feed.products),
        )
    return FareVersion(version_id, operator_id, sha, len(feed.products), created=True)


#: What a parsed feed depends on: the fares version, the timetable version, the zone.
_Key = tuple[str, int | None, str]


class FaresCache:
    """Parsed current fares of every operator, reloaded when its fares or timetable change."""

    def __init__(self, cache: Cache | None = None) -> None:
        self._feeds: dict[str, tuple[_Key, FareFeed | None]] = {}
        self._lock = asyncio.Lock()
        self._cache = cache

    async def current(self, pool: asyncpg.Pool) -> dict[str, FareFeed]:
        """Return every operator's current fares, matched against its current timetable."""

        # The key includes the timetable version: another process's feed upload is seen
        # at the next request (or, with a cache, once `maas_cache` says so).
        async def versions() -> list[asyncpg.Record]:
            found: list[asyncpg.Record] = await pool.fetch(
                """SELECT f.operator_id, f.sha256, o.timezone, v.id AS feed_version_id
                   FROM fare_versions f JOIN operators o ON o.id = f.operator_id
                   LEFT JOIN feed_versions v ON v.operator_id = f.operator_id AND v.is_current
                   WHERE f.is_current"""
            )
            return found

        rows = await (
            versions() if self._cache is None else self._cache.get("fares", "current", versions)
        )
        wanted: dict[str, _Key] = {
            r["operator_id"]: (r["sha256"], r["feed_version_id"], r["timezone"]) for r in rows
        }
        if any(self._key(op) != key for op, key in wanted.items()):
            async with self._lock:
                # Checked again under the lock: a request queued before this one may have
                # loaded it already, and a feed is parsed once, not once per waiting request.
                for operator_id, key in wanted.items():
                    if self._key(operator_id) != key:
                        await self._load(pool, operator_id, key)
        loaded = {op: self._feeds[op][1] for op in wanted if op in self._feeds}
        return {op: feed for op, feed in loaded.items() if feed is not None}

    def _key(self, operator_id: str) -> _Key | None:
        cached = self._feeds.get(operator_id)
        return None if cached is None else cached[0]

    async def _load(self, pool: asyncpg.Pool, operator_id: str, key: _Key) -> None:
        sha, version_id, timezone = key
        archive = await pool.fetchval(
            "SELECT files FROM fare_versions WHERE operator_id = $1 AND sha256 = $2",
            operator_id,
            sha,
        )
        timetable = None
        if version_id is not None:
            timetable = await load_version_tables(pool, version_id, CONTEXT_TABLES)
        try:
            feed = await check_fares(bytes(archive), operator_id, timezone, timetable, strict=False)
        except FaresValidationError:
            # Stored fares were valid when published; whatever fails now, sales of the
            # other operators go on, and this one's legs get `no_fares` until it republishes.
            log.exception("stored fares no longer load", extra={"operator_id": operator_id})
            self._feeds[operator_id] = (key, None)
            return
        self._feeds[operator_id] = (key, feed)
