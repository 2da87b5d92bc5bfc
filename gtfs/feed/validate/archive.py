"""Validate a GTFS zip before anything is stored: the archive itself, then every table.

Errors reject the feed as one `FeedInvalid` listing `{file, row, field, message}`
(the first `MAX_LISTED`, with the total count); warnings are returned and kept
with the feed version. Row numbers are CSV line numbers (the header is line 1).
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import pandas as pd
from pandas.api.types import union_categoricals

from gtfs.feed.validate.issues import MAX_LISTED, FeedInvalid, FeedIssue, Issues
from gtfs.feed.validate.rules import check_tables
from gtfs.feed.validate.times import check_stop_times

__all__ = [
    "MAX_LISTED",
    "FeedInvalid",
    "FeedIssue",
    "Issues",
    "ValidationReport",
    "ZipLimits",
    "validate_zip",
]

#: The files this gateway reads; anything else in the zip is ignored (with a warning).
KNOWN_FILES = (
    "agency",
    "stops",
    "routes",
    "trips",
    "stop_times",
    "calendar",
    "calendar_dates",
    "transfers",
    "shapes",
)

#: What ignoring a file means, where it is more than the file's absence.
IGNORED_BECAUSE = {
    "frequencies.txt": "not supported yet: the trips it repeats run only once, at the times "
    "of their stop_times",
}

#: Tables whose every column is read as categories: few distinct values, millions of rows.
_CATEGORICAL_TABLES = {"stop_times"}
_CHUNK_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits that keep a hostile or broken zip from exhausting memory or disk."""

    max_file_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """A feed that passed: its warnings (the first `MAX_LISTED`) and their total."""

    warnings: list[FeedIssue]
    warning_total: int


def check_zip(path: Path, limits: ZipLimits) -> dict[str, str]:
    """Check the archive and return {table name: member name} of the GTFS files in it."""
    if not zipfile.is_zipfile(path):
        raise FeedInvalid([FeedIssue("", None, None, "the upload is not a zip archive")])
    issues = Issues()
    members: dict[str, str] = {}
    total_bytes = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename).name
            total_bytes += info.file_size
            _check_member(info, name, limits, issues)
            stem = name.removesuffix(".txt")
            if name.endswith(".txt") and stem in KNOWN_FILES:
                if stem in members:
                    issues.error(name, None, None, "the zip holds this file twice")
                members[stem] = info.filename
    if total_bytes > limits.max_total_bytes:
        issues.error(
            "",
            None,
            None,
            f"the files unpack to {total_bytes} bytes, over the limit of {limits.max_total_bytes}",
        )
    issues.raise_if_any()
    return members


def _check_member(info: zipfile.ZipInfo, name: str, limits: ZipLimits, issues: Issues) -> None:
    """Reject a member that is too large or compressed suspiciously well (a zip bomb)."""
    # The sizes are the ones the zip declares; Python's reader stops at the declared
    # size and fails the CRC check, so a lying header cannot unpack more than this.
    if info.file_size > limits.max_file_bytes:
        issues.error(
            name,
            None,
            None,
            f"the file unpacks to {info.file_size} bytes, over the limit of "
            f"{limits.max_file_bytes}",
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= limits.ratio_min_bytes and ratio > limits.max_ratio:
        issues.error(
            name,
            None,
            None,
            f"compression ratio {ratio:.0f}:1 is over {limits.max_ratio:.0f}:1 (a zip bomb?)",
        )


def _check_utf8(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, issues: Issues) -> None:
    """Refuse a text file that is not UTF-8, as GTFS requires (also one the gateway ignores).

    Read in chunks (its size is checked already); the fares and other readers then never
    meet bytes they cannot decode.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with zf.open(info) as f:
            while chunk := f.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    byte = chunk[exc.start : exc.start + 1].hex() if exc.start >= 0 else "?"
                    issues.error(
                        name,
                        None,
                        None,
                        f"not UTF-8 text: byte 0x{byte} at offset {offset + max(exc.start, 0)}"
                        " (GTFS files are UTF-8: save it as UTF-8)",
                    )
                    return
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        issues.error(name, None, None, "not UTF-8 text: it ends inside a character")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        issues.error(name, None, None, f"the zip member is corrupt: {exc}")


def read_raw_tables(path: Path, members: dict[str, str], issues: Issues) -> dict[str, pd.DataFrame]:
    """Read every GTFS file as text (blank cells are ""), recording files that are not CSV."""
    raw: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(path) as zf:
        for table, member in members.items():
            try:
                with zf.open(member) as f:
                    df = _read_csv(f, categorical=table in _CATEGORICAL_TABLES)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                issues.error(f"{table}.txt", None, None, f"not a readable CSV file: {exc}")
                continue
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                issues.error(f"{table}.txt", None, None, f"the zip member is corrupt: {exc}")
                continue
            raw[table] = df
    return raw


def _read_csv(f: IO[bytes], categorical: bool) -> pd.DataFrame:
    """Read a CSV as text in chunks, as categories when `categorical` (text otherwise)."""
    chunks = []
    reader = pd.read_csv(
        f,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8-sig",
        chunksize=_CHUNK_ROWS,
    )
    for chunk in reader:
        chunk.columns = [str(c).strip() for c in chunk.columns]
        if categorical:
            chunk = chunk.astype("category")
        chunks.append(chunk)
    if not chunks:
        raise pd.errors.EmptyDataError("the file has no rows")
    if len(chunks) == 1:
        return chunks[0]
    out = {}
    for column in chunks[0].columns:
        parts = [c[column] for c in chunks]
        if categorical:
            out[column] = pd.Series(union_categoricals(parts))
        else:
            out[column] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def validate_zip(path: Path, limits: ZipLimits | None = None) -> ValidationReport:
    """Validate a GTFS zip; raise `FeedInvalid` with every error, else return the warnings."""
    members = check_zip(path, limits or ZipLimits())
    issues = Issues()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename).name
            if not info.is_dir() and name.removesuffix(".txt") not in KNOWN_FILES:
                message = IGNORED_BECAUSE.get(name, "file not imported by the gateway")
                issues.warning(name, None, None, message)
                if name.endswith(".txt"):
                    _check_utf8(zf, info, name, issues)
    raw = read_raw_tables(path, members, issues)
    issues.raise_if_any()
    if check_tables(raw, issues):
        check_stop_times(raw, issues)
    issues.raise_if_any()
    return ValidationReport(issues.warnings, issues.warning_total)
