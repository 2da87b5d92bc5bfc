"""From an uploaded zip to tables ready to store: hash, validate, read, split, interpolate.

Everything here blocks (it parses CSV with pandas): call it off the event loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gtfs_kit as gk

from gtfs.feed.interpolate import interpolate_tables
from gtfs.feed.read import read_gtfs_kit_feed, tables_from_feed
from gtfs.feed.service_period import service_dates
from gtfs.feed.split import restrict_to_agency
from gtfs.feed.validate.archive import ValidationReport, ZipLimits, validate_zip
from gtfs.feed.validate.issues import FeedIssue
from gtfs.tables import GtfsTables


@dataclass(frozen=True, slots=True)
class PreparedFeed:
    """A validated feed of one operator, with ids namespaced and every time set."""

    operator_id: str
    sha256: str
    tables: GtfsTables
    warnings: list[FeedIssue]
    warning_total: int
    interpolated_rows: int
    #: The days its trips run (its service period and its date-dependent warnings).
    service_dates: tuple[dt.date, ...] = ()

    def counts(self) -> dict[str, int]:
        """Return the number of rows of each table."""
        return {name: len(getattr(self.tables, name)) for name in self.tables.table_names()}

    def warnings_json(self) -> dict[str, Any]:
        """Return the warnings as stored with the feed version."""
        return {"items": [w.as_dict() for w in self.warnings], "total": self.warning_total}


def file_sha256(path: Path, agency_id: str | None = None) -> str:
    """Return the SHA-256 that identifies a feed (of the zip, and of the agency taken from it)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if agency_id is not None:
        digest.update(b"\0agency:" + agency_id.encode())
    return digest.hexdigest()


def _nothing(step: str) -> None:
    """Report nothing (the default progress callback)."""


def prepare_split(
    path: Path, operators: dict[str, str], report: ValidationReport | None = None
) -> list[PreparedFeed]:
    """Validate a shared feed once and prepare {operator id: agency id} parts of it."""
    report = report or validate_zip(path)
    feed = read_gtfs_kit_feed(path)
    return [
        _prepare_part(path, feed, operator_id, agency_id, report, _nothing)
        for operator_id, agency_id in operators.items()
    ]


def prepare_feed(
    path: Path,
    operator_id: str,
    agency_id: str | None = None,
    limits: ZipLimits | None = None,
    report: ValidationReport | None = None,
    progress: Callable[[str], None] = _nothing,
) -> PreparedFeed:
    """Validate and read a GTFS zip into an operator's tables (raises `FeedInvalid`).

    `progress` is told each step as it starts: validate, read, interpolate.
    """
    progress("validate")
    report = report or validate_zip(path, limits)
    progress("read")
    feed = read_gtfs_kit_feed(path)
    return _prepare_part(path, feed, operator_id, agency_id, report, progress)


def _prepare_part(
    path: Path,
    feed: gk.Feed,
    operator_id: str,
    agency_id: str | None,
    report: ValidationReport,
    progress: Callable[[str], None],
) -> PreparedFeed:
    """Take an agency's part of a read feed (or all of it), namespace and interpolate it."""
    if agency_id is not None:
        feed = restrict_to_agency(feed, agency_id)
    progress("interpolate")
    tables, filled = interpolate_tables(tables_from_feed(feed, operator_id))
    return PreparedFeed(
        operator_id=operator_id,
        sha256=file_sha256(path, agency_id),
        tables=tables,
        warnings=report.warnings,
        warning_total=report.warning_total,
        interpolated_rows=filled,
        service_dates=tuple(service_dates(tables)),
    )
