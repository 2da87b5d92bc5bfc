"""Reading fares files: members of a zip, CSV rows with their line numbers, and collected issues."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from operators.fares.model import FareIssue, FaresValidationError

#: The Fares v2 files, and the timetable files whose ids and settings the fares refer to.
FARE_FILES = (
    "fare_products.txt",
    "fare_media.txt",
    "rider_categories.txt",
    "fare_leg_rules.txt",
    "fare_leg_join_rules.txt",
    "fare_transfer_rules.txt",
    "areas.txt",
    "stop_areas.txt",
    "networks.txt",
    "route_networks.txt",
    "timeframes.txt",
)
CONTEXT_FILES = ("agency.txt", "stops.txt", "routes.txt", "calendar.txt", "calendar_dates.txt")
MAX_REPORTED_ERRORS = 100
#: Warnings listed (the upload's answer, the stored version); all of them are counted.
MAX_REPORTED_WARNINGS = 100
#: Rows read from all the files of one upload. Rows are streamed, not kept, but what they
#: compile to is (stop_areas become the engine's stop -> areas map): this bounds it.
MAX_ROWS = 200_000
#: PostgreSQL text cannot hold U+0000, and no GTFS value needs it.
_NUL = "contains a NUL character (U+0000)"
_TIME = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Row:
    """A data line: its line number in the file and its non-empty, stripped values."""

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str | None:
        """Return the value of a column, None when empty or absent."""
        return self.values.get(column)


#: Opens a file's bytes afresh: each pass over a table reads it again from its source.
Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file: its header, and how to stream its rows again (they are never held).

    The first read (`open_table`) reports what is wrong with the file itself and counts its
    rows against the budget; every later pass (`iter_rows`) gives the same rows.
    """

    name: str
    columns: tuple[str, ...]
    opener: Opener | None = None
    readable: bool = True

    def iter_rows(self) -> Iterator[Row]:
        """Stream the data rows from the file, one at a time (blank lines skipped)."""
        if self.opener is None or not self.readable:
            return iter(())
        return _stream_rows(self.opener, self.columns)


def _stream_rows(opener: Opener, columns: tuple[str, ...]) -> Iterator[Row]:
    with io.TextIOWrapper(opener(), encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        next(reader, None)
        for record in reader:
            if not _blank(record):
                yield Row(reader.line_num, _values(columns, record))


def _blank(record: list[str]) -> bool:
    return not any(record) or not "".join(record).strip()


def _values(columns: tuple[str, ...], record: list[str]) -> dict[str, str]:
    return {c: v for c, v in zip(columns, map(str.strip, record), strict=False) if v}


class _TooManyRows(Exception):
    """The upload holds more rows than its `RowBudget` allows."""


@dataclass(slots=True)
class RowBudget:
    """How many more rows one upload may hold, shared by all its files."""

    max_rows: int = MAX_ROWS
    used: int = 0

    def take(self) -> None:
        """Count one row; raise once the budget is spent."""
        self.used += 1
        if self.used > self.max_rows:
            raise _TooManyRows


@dataclass(slots=True)
class Issues:
    """Errors and warnings collected while loading; keeps the first of each and counts all."""

    errors: list[FareIssue] = field(default_factory=list)
    total: int = 0
    warnings: list[FareIssue] = field(default_factory=list)
    warning_total: int = 0
    #: False when stored fares are matched against a newer timetable: what the timetable
    #: no longer has is then a warning (those rules match nothing), not a refusal.
    strict_timetable: bool = True

    def error(self, file: str, row: int, field_name: str, message: str) -> None:
        """Record an error (only the first `MAX_REPORTED_ERRORS` are kept)."""
        self.total += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(FareIssue(file, row, field_name, message))

    def warn(self, file: str, row: int, field_name: str, message: str) -> FareIssue:
        """Record a warning (only the first `MAX_REPORTED_WARNINGS` are kept) and return it."""
        issue = FareIssue(file, row, field_name, message)
        self.warning_total += 1
        if len(self.warnings) < MAX_REPORTED_WARNINGS:
            self.warnings.append(issue)
        return issue

    timetable_warnings: list[FareIssue] = field(default_factory=list)
    timetable_warning_total: int = 0

    def timetable_mismatch(self, file: str, row: int, field_name: str, message: str) -> None:
        """Record fares and timetable that disagree: an error, or a warning when not strict."""
        if self.strict_timetable:
            self.error(file, row, field_name, message)
        else:
            self.warn_timetable(file, row, field_name, message)

    def warn_timetable(self, file: str, row: int, field_name: str, message: str) -> None:
        """Record a warning about the timetable the fares are matched against."""
        issue = self.warn(file, row, field_name, message)
        self.timetable_warning_total += 1
        if len(self.timetable_warnings) < MAX_REPORTED_WARNINGS:
            self.timetable_warnings.append(issue)

    def raise_if_any(self) -> None:
        """Raise `FaresValidationError` when an error was recorded."""
        if self.total:
            raise FaresValidationError(self.errors, self.total, tuple(self.warnings))


def parse_table(
    name: str, content: bytes, issues: Issues, budget: RowBudget | None = None
) -> Table:
    """Check a CSV file given as bytes; its rows are numbered by line (header is line 1)."""
    return open_table(name, partial(io.BytesIO, content), issues, budget or RowBudget())


def open_table(name: str, opener: Opener, issues: Issues, budget: RowBudget) -> Table:
    """Read a CSV file once, a line at a time: report its own errors, count its rows.

    Nothing of the rows is kept: the returned table streams them again from `opener`.
    """
    with io.TextIOWrapper(opener(), encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None:
                issues.error(name, 0, "", "file is empty (no header line)")
                return Table(name, (), readable=False)
            columns = tuple(c.strip() for c in header)
            if "\x00" in "".join(columns):
                issues.error(name, 1, "", _NUL)
            _check_rows(name, reader, columns, issues, budget)
            return Table(name, columns, opener)
        except UnicodeDecodeError:
            issues.error(name, 0, "", "file is not UTF-8")
        except csv.Error as exc:
            issues.error(name, reader.line_num, "", f"not a readable CSV file: {exc}")
        except _TooManyRows:
            message = f"more than {budget.max_rows} rows in the fares"
            issues.error(name, reader.line_num, "", message)
    return Table(name, (), readable=False)


def _check_rows(
    name: str, reader: Any, columns: tuple[str, ...], issues: Issues, budget: RowBudget
) -> None:
    for record in reader:
        text = "".join(record)
        if not text.strip():
            continue
        budget.take()
        if len(record) != len(columns):
            line = reader.line_num
            issues.error(name, line, "", f"{len(record)} fields, header has {len(columns)}")
        if "\x00" in text:
            issues.error(name, reader.line_num, "", _NUL)


def parse_tables(files: Mapping[str, bytes], issues: Issues) -> dict[str, Table]:
    """Parse every known file present; unknown names are ignored."""
    known = (*FARE_FILES, *CONTEXT_FILES)
    budget = RowBudget()
    return {name: parse_table(name, files[name], issues, budget) for name in known if name in files}


def check_columns(table: Table, required: tuple[str, ...], issues: Issues) -> bool:
    """Report required columns missing from the header; return whether all are there."""
    missing = [c for c in required if c not in table.columns]
    for column in missing:
        issues.error(table.name, 1, column, "required column is missing")
    return not missing


def require(table: Table, row: Row, column: str, issues: Issues) -> str | None:
    """Return a required value, reporting it when empty."""
    value = row.get(column)
    if value is None:
        issues.error(table.name, row.line, column, "required value is empty")
    return value


def parse_int(
    table: Table, row: Row, column: str, issues: Issues, allowed: range | None = None
) -> int | None:
    """Return an optional integer value, reporting bad syntax or a value outside `allowed`."""
    value = row.get(column)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d+", value):
        issues.error(table.name, row.line, column, f"{value!r} is not an integer")
        return None
    number = int(value)
    if allowed is not None and number not in allowed:
        issues.error(table.name, row.line, column, f"{number} is not a valid value")
        return None
    return number


def parse_local_time_s(table: Table, row: Row, column: str, issues: Issues) -> int | None:
    """Return an optional HH:MM:SS local time (at most 24:00:00) as seconds since midnight."""
    value = row.get(column)
    if value is None:
        return None
    match = _TIME.match(value)
    seconds = None
    if match:
        h, m, s = (int(g) for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if seconds is None or seconds > 24 * 3600:
        issues.error(
            table.name, row.line, column, f"{value!r} is not a time from 00:00:00 to 24:00:00"
        )
        return None
    return seconds
