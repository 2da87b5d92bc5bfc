"""Reading a fares zip without trusting it: bounded sizes and ratio, members streamed.

An upload of a megabyte may declare members of gigabytes (an honest zip bomb) or declare
small members whose data unpacks to far more (a lying header). The declared sizes and
ratios are checked before anything is unpacked, as the feed upload does
(`gtfs.feed.validate.archive.ZipLimits`), and no member is ever read past its declared
size or the limit, whatever its data says.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from gtfs.feed.validate.archive import ZipLimits
from operators.fares.csvfiles import (
    CONTEXT_FILES,
    FARE_FILES,
    Issues,
    RowBudget,
    Table,
    parse_stream,
)

_MIB = 1024 * 1024
#: Fares are small files (a national stop_areas.txt is a few MiB); a timetable's stops.txt
#: may come with them, so the limits leave room for that and no more.
FARES_ZIP_LIMITS = ZipLimits(
    max_file_bytes=16 * _MIB, max_total_bytes=32 * _MIB, max_ratio=200.0, ratio_min_bytes=_MIB
)
T = TypeVar("T")


class _Overrun(Exception):
    """A member whose data does not match its header (it declares less than it holds)."""


class _Bounded(io.RawIOBase):
    """A member's stream that gives at most its declared size and checks it against its CRC.

    zipfile stops at the declared size but checks the CRC only at the end of the data: a
    member that declares less than it holds would be read cut short, silently.
    """

    def __init__(self, inner: IO[bytes], info: zipfile.ZipInfo) -> None:
        self._inner, self._left, self._expected = inner, info.file_size, info.CRC
        self._crc, self._checked = 0, False

    def readable(self) -> bool:
        """Return True: this is a read-only stream."""
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read into `buffer`; at the declared end, refuse data whose CRC is not the header's."""
        data = self._inner.read(min(len(buffer), self._left)) if self._left else b""
        self._left -= len(data)
        self._crc = zlib.crc32(data, self._crc)
        if (not data or not self._left) and not self._checked:
            self._checked = True
            if self._left or self._crc != self._expected:
                raise _Overrun
        buffer[: len(data)] = data
        return len(data)


def read_zip_tables(
    source: bytes | Path, issues: Issues, limits: ZipLimits = FARES_ZIP_LIMITS
) -> dict[str, Table]:
    """Parse the fares and timetable-context files of a zip, each streamed from the archive."""
    budget = RowBudget()

    def parse(name: str, stream: IO[bytes]) -> Table:
        return parse_stream(name, stream, issues, budget)

    return _each_member(source, issues, limits, parse)


def read_zip_members(
    source: bytes | Path, issues: Issues | None = None, limits: ZipLimits = FARES_ZIP_LIMITS
) -> dict[str, bytes]:
    """Return the bytes of the fares and timetable-context files of a zip, within the limits."""
    own = issues or Issues()
    members = _each_member(source, own, limits, lambda _, stream: stream.read())
    if issues is None:
        own.raise_if_any()
    return members


def _each_member(
    source: bytes | Path,
    issues: Issues,
    limits: ZipLimits,
    read: Callable[[str, IO[bytes]], T],
) -> dict[str, T]:
    wanted = set(FARE_FILES) | set(CONTEXT_FILES)
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    out: dict[str, T | None] = {}
    try:
        with zipfile.ZipFile(handle) as archive:
            members = [i for i in archive.infolist() if i.filename in wanted]
            check_members(members, limits, issues)
            if issues.total:
                return {}
            for info in members:
                out[info.filename] = _read_member(archive, info, issues, read)
    except zipfile.BadZipFile:
        issues.error("", 0, "", "not a zip file")
        return {}
    return {name: value for name, value in out.items() if value is not None}


def _read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    issues: Issues,
    read: Callable[[str, IO[bytes]], T],
) -> T | None:
    try:
        with archive.open(info) as member:
            stream = io.BufferedReader(_Bounded(member, info))
            return read(info.filename, stream)
    except (_Overrun, zipfile.BadZipFile, EOFError, OSError) as exc:
        detail = "its data does not match its header" if isinstance(exc, _Overrun) else str(exc)
        issues.error(info.filename, 0, "", f"the zip member is corrupt: {detail}")
        return None


def check_members(members: list[zipfile.ZipInfo], limits: ZipLimits, issues: Issues) -> None:
    """Report members too large, compressed suspiciously well, or too large together."""
    total = 0
    for info in members:
        total += info.file_size
        if info.file_size > limits.max_file_bytes:
            message = (
                f"unpacks to {info.file_size} bytes, over the limit of {limits.max_file_bytes}"
            )
            issues.error(info.filename, 0, "", message)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= limits.ratio_min_bytes and ratio > limits.max_ratio:
            message = (
                f"compression ratio {ratio:.0f}:1 is over {limits.max_ratio:.0f}:1 (a zip bomb?)"
            )
            issues.error(info.filename, 0, "", message)
    if total > limits.max_total_bytes:
        message = f"the files unpack to {total} bytes, over the limit of {limits.max_total_bytes}"
        issues.error("", 0, "", message)
