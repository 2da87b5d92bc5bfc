"""Publishing an operator's feed: prepare it off the event loop, store it, wake the timetable."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import asyncpg

from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import StoredFeed, store_feed
from gtfs.feed.validate.archive import ZipLimits
from gtfs.feed.validate.issues import FeedIssue
from operators.fares.coverage import coverage_warnings
from operators.fares.model import FareIssue
from sales.fares import check_fares, fare_files_of, save_fares, timetable_change_warnings, zip_files


async def publish_feed(
    pool: asyncpg.Pool,
    path: Path,
    operator_id: str,
    agency_id: str | None = None,
    limits: ZipLimits | None = None,
) -> tuple[PreparedFeed, StoredFeed]:
    """Validate, read and store a GTFS zip as the operator's current feed (raises FeedInvalid).

    Fares v2 files inside the zip are validated against the feed before anything is
    stored (raises FaresValidationError) and become the operator's current fares. Without
    them, the current fares are matched against the new timetable: what they no longer
    cover is among the feed's warnings.
    """
    prepared = await asyncio.to_thread(prepare_feed, path, operator_id, agency_id, limits)
    files = await asyncio.to_thread(fare_files_of, path)  # only the fare files, not the zip
    timezone = await pool.fetchval("SELECT timezone FROM operators WHERE id = $1", operator_id)
    fares = None
    if files is not None:
        archive = zip_files(files)
        fares = await check_fares(archive, operator_id, timezone, prepared.tables)
        notes = [*fares.warnings, *coverage_warnings(fares, prepared.tables)]
    else:
        notes = await timetable_change_warnings(pool, operator_id, timezone, prepared.tables)
    prepared = _with_warnings(prepared, notes)
    stored = await store_feed(pool, prepared)
    if fares is not None:
        await save_fares(pool, operator_id, archive, fares)
    return prepared, stored


def _with_warnings(prepared: PreparedFeed, notes: list[FareIssue]) -> PreparedFeed:
    """Add the fares' warnings to the feed's, as the upload answers and the version keeps."""
    extra = [FeedIssue(n.file, n.row or None, n.field or None, n.message) for n in notes]
    return replace(
        prepared,
        warnings=[*prepared.warnings, *extra],
        warning_total=prepared.warning_total + len(extra),
    )
