"""Publishing an operator's feed: prepare it off the event loop, store it, wake the timetable.

An upload is published in a child process (`publish_in_child`): validating and reading a
feed is pandas holding the GIL, for seconds on millions of stop times, which in a thread
of the serving process stalled every request meanwhile. The child's progress lines come
out of the gateway's log with the request's id; it sends back only what the answer needs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg

from gateway.dbcodecs import init_connection
from gateway.logs import request_id_var
from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import StoredFeed, StoreProgress, store_feed
from gtfs.feed.validate.archive import ZipLimits
from gtfs.feed.validate.issues import FeedIssue
from gtfs.snapshot.child import child_pool, peak_rss_kib, run_in_child
from operators.fares.model import FareIssue
from sales.fares import (
    check_fares,
    fare_files_of,
    fares_warnings,
    save_fares,
    timetable_change_warnings,
    zip_files,
)

log = logging.getLogger(__name__)

#: How a publishing child's connection shows in `pg_stat_activity` (then its pid).
PUBLISH_APPLICATION_NAME = "maas-feed-publish"


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing a feed did, without its tables (what a child process sends back)."""

    stored: StoredFeed
    counts: dict[str, int]
    interpolated_rows: int
    service_dates: tuple[dt.date, ...]
    warnings: list[FeedIssue]
    warning_total: int
    #: The child's peak resident memory (its own VmHWM, not inherited over the fork), KiB.
    peak_rss_kib: int = 0


async def publish_in_child(
    database_url: str,
    path: Path,
    operator_id: str,
    agency_id: str | None = None,
    limits: ZipLimits | None = None,
) -> Published:
    """Publish a GTFS zip as `publish_feed` does, in a child process (raises as it does).

    Its progress lines come out of this process's logging, with the request's id, and
    so does its peak memory once it is done.
    """
    published: Published = await run_in_child(
        _publish_child,
        database_url,
        path,
        operator_id,
        agency_id,
        limits,
        log_fields={"request_id": request_id_var.get()},
    )
    log.info(
        "feed published in a child process",
        extra={"operator_id": operator_id, "peak_rss_kib": published.peak_rss_kib},
    )
    return published


def _publish_child(
    database_url: str,
    path: Path,
    operator_id: str,
    agency_id: str | None,
    limits: ZipLimits | None,
) -> Published:
    """Publish in the child, with a pool of one connection; return the summary."""

    async def publish() -> Published:
        async with child_pool(database_url, PUBLISH_APPLICATION_NAME, init_connection) as pool:
            prepared, stored = await publish_feed(pool, path, operator_id, agency_id, limits)
        return Published(
            stored=stored,
            counts=prepared.counts(),
            interpolated_rows=prepared.interpolated_rows,
            service_dates=prepared.service_dates,
            warnings=prepared.warnings,
            warning_total=prepared.warning_total,
            peak_rss_kib=peak_rss_kib(),
        )

    return asyncio.run(publish())


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
        notes, total = fares_warnings(fares, prepared.tables)
    else:
        notes, total = await timetable_change_warnings(pool, operator_id, timezone, prepared.tables)
    prepared = _with_warnings(prepared, notes, total)
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


def _with_warnings(prepared: PreparedFeed, notes: list[FareIssue], total: int) -> PreparedFeed:
    """Add the fares' warnings to the feed's, as the upload answers and the version keeps.

    `notes` are the ones listed, `total` how many there are in all.
    """
    extra = [FeedIssue(n.file, n.row or None, n.field or None, n.message) for n in notes]
    return replace(
        prepared,
        warnings=[*prepared.warnings, *extra],
        warning_total=prepared.warning_total + total,
    )
