"""Publishing an operator's feed: prepare it off the event loop, store it, wake the timetable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import StoredFeed, store_feed
from gtfs.feed.validate.archive import ZipLimits
from sales.fares import check_fares, fare_files_of, save_fares, zip_files


async def publish_feed(
    pool: asyncpg.Pool,
    path: Path,
    operator_id: str,
    agency_id: str | None = None,
    limits: ZipLimits | None = None,
) -> tuple[PreparedFeed, StoredFeed]:
    """Validate, read and store a GTFS zip as the operator's current feed (raises FeedInvalid).

    Fares v2 files inside the zip are validated against the feed before anything is
    stored (raises FaresValidationError) and become the operator's current fares.
    """
    prepared = await asyncio.to_thread(prepare_feed, path, operator_id, agency_id, limits)
    files = await asyncio.to_thread(fare_files_of, path)  # only the fare files, not the zip
    fares = None
    if files is not None:
        timezone = await pool.fetchval("SELECT timezone FROM operators WHERE id = $1", operator_id)
        archive = zip_files(files)
        fares = await check_fares(archive, operator_id, timezone, prepared.tables)
    stored = await store_feed(pool, prepared)
    if fares is not None:
        await save_fares(pool, operator_id, archive, fares)
    return prepared, stored
