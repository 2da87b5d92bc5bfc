"""Operators' published fares: stored versions in PostgreSQL, parsed feeds cached per process."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg

from gtfs.tables import GtfsTables
from operators.fares.csvfiles import read_zip_members
from operators.fares.loader import load_fares_files
from operators.fares.model import FareFeed


@dataclass(frozen=True, slots=True)
class FareVersion:
    """A stored fares upload."""

    id: int
    operator_id: str
    sha256: str
    product_count: int
    created: bool


def zip_files(files: Mapping[str, bytes]) -> bytes:
    """Pack fare files into a zip, in a stable order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), files[name])
    return buffer.getvalue()


def fare_files_of(archive: bytes | Path) -> dict[str, bytes] | None:
    """Return the Fares v2 files of a GTFS zip (with the files they refer to), or None."""
    files = read_zip_members(archive)
    return files if "fare_products.txt" in files else None


async def store_fares(
    pool: asyncpg.Pool,
    operator_id: str,
    archive: bytes,
    timezone: str,
    timetable: GtfsTables | None = None,
) -> FareVersion:
    """Validate a fares zip (or raise `FaresValidationError`) and make it the current fares.

    With `timetable` (the operator's tables), stop and route references are checked too.
    """
    feed = await check_fares(archive, operator_id, timezone, timetable)
    return await save_fares(pool, operator_id, archive, feed)


async def check_fares(
    archive: bytes, operator_id: str, timezone: str, timetable: GtfsTables | None = None
) -> FareFeed:
    """Load and validate a fares zip off the event loop (raises `FaresValidationError`)."""
    files = await asyncio.to_thread(read_zip_members, archive)
    return await asyncio.to_thread(
        partial(load_fares_files, timezone=timezone, timetable=timetable), files, operator_id
    )


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


class FaresCache:
    """Parsed current fares of every operator, reloaded only when a version changes."""

    def __init__(self) -> None:
        self._feeds: dict[str, tuple[str, FareFeed]] = {}
        self._lock = asyncio.Lock()

    async def current(self, pool: asyncpg.Pool) -> dict[str, FareFeed]:
        """Return every operator's current fares."""
        rows = await pool.fetch(
            """SELECT f.operator_id, f.sha256, o.timezone FROM fare_versions f
               JOIN operators o ON o.id = f.operator_id WHERE f.is_current"""
        )
        wanted = {r["operator_id"]: (r["sha256"], r["timezone"]) for r in rows}
        if any(self._sha(op) != sha for op, (sha, _) in wanted.items()):
            async with self._lock:
                # Checked again under the lock: a request queued before this one may have
                # loaded it already, and a feed is parsed once, not once per waiting request.
                for operator_id, (sha, timezone) in wanted.items():
                    if self._sha(operator_id) != sha:
                        await self._load(pool, operator_id, sha, timezone)
        return {op: self._feeds[op][1] for op in wanted if op in self._feeds}

    def _sha(self, operator_id: str) -> str:
        return self._feeds.get(operator_id, ("", None))[0]

    async def _load(self, pool: asyncpg.Pool, operator_id: str, sha: str, timezone: str) -> None:
        archive = await pool.fetchval(
            "SELECT files FROM fare_versions WHERE operator_id = $1 AND sha256 = $2",
            operator_id,
            sha,
        )
        self._feeds[operator_id] = (sha, await check_fares(bytes(archive), operator_id, timezone))
