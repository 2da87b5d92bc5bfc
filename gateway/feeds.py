"""Publishing an operator's feed: prepare it off the event loop, store it, wake the timetable."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import asyncpg

from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import StoredFeed, StoreProgress, store_feed
from gtfs.feed.validate.archive import ZipLimits
from gtfs.feed.validate.issues import FeedIssue
from operators.fares.coverage import coverage_warnings
from operators.fares.model import FareIssue
from sales.fares import check_fares, fare_files_of, save_fares, timetable_change_warnings, zip_files

log = logging.getLogger(__name__)


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

    def step(name: str) -> None:
        log.info("publishing feed: %s", name, extra={"operator_id": operator_id, "step": name})

    prepared = await asyncio.to_thread(
        prepare_feed, path, operator_id, agency_id, limits, progress=step
    )
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
    step("store")
    stored = await store_feed(pool, prepared, store_progress(operator_id))
    if fares is not None:
        await save_fares(pool, operator_id, archive, fares)
    return prepared, stored


def store_progress(operator_id: str) -> StoreProgress:
    """Return a progress callback that logs each table's rows stored, every tenth of it."""
    logged: dict[str, int] = {}

    def report(table: str, rows: int, total: int) -> None:
        tenth = rows * 10 // max(total, 1)
        if tenth > logged.get(table, 0):
            logged[table] = tenth
            log.info(
                "storing feed: %s %d of %d rows",
                table,
                rows,
                total,
                extra={"operator_id": operator_id, "table": table, "rows": rows, "total": total},
            )

    return report


def _with_warnings(prepared: PreparedFeed, notes: list[FareIssue]) -> PreparedFeed:
    """Add the fares' warnings to the feed's, as the upload answers and the version keeps."""
    extra = [FeedIssue(n.file, n.row or None, n.field or None, n.message) for n in notes]
    return replace(
        prepared,
        warnings=[*prepared.warnings, *extra],
        warning_total=prepared.warning_total + len(extra),
    )
