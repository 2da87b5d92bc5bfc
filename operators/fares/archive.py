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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

from gtfs.feed.validate.archive import ZipLimits
from operators.fares.csvfiles import (
    CONTEXT_FILES,
    FARE_FILES,
    Issues,
    Opener,
    RowBudget,
    Table,
    open_table,
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

    def close(self) -> None:
        """Close the member's stream too."""
        self._inner.close()
        super().close()

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


@contextmanager
def open_zip_tables(
    source: bytes | Path, issues: Issues, limits: ZipLimits = FARES_ZIP_LIMITS
) -> Iterator[dict[str, Table]]:
    """Open the fares and timetable-context files of a zip as tables streamed from it.

    Each member is read once here (its own errors, the row budget); the archive stays
    open while the tables are used, and every pass over a table unpacks it again.
    """
    budget = RowBudget()
    with _open_archive(source, issues, limits) as members:
        tables: dict[str, Table] = {}
        for info, opener in members:
            read = partial(open_table, info.filename, opener, issues, budget)
            table = _read_member(info, issues, read)
            if table is not None:
                tables[info.filename] = table
        yield tables


def read_zip_members(
    source: bytes | Path, issues: Issues | None = None, limits: ZipLimits = FARES_ZIP_LIMITS
) -> dict[str, bytes]:
    """Return the bytes of the fares and timetable-context files of a zip, within the limits."""
    own = issues or Issues()
    out: dict[str, bytes] = {}
    with _open_archive(source, own, limits) as members:
        for info, opener in members:
            data = _read_member(info, own, partial(_read_all, opener))
            if data is not None:
                out[info.filename] = data
    if issues is None:
        own.raise_if_any()
    return out


@contextmanager
def _open_archive(
    source: bytes | Path, issues: Issues, limits: ZipLimits
) -> Iterator[list[tuple[zipfile.ZipInfo, Opener]]]:
    """Yield the wanted members within the limits, each with its opener (none when refused)."""
    wanted = set(FARE_FILES) | set(CONTEXT_FILES)
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        issues.error("", 0, "", "not a zip file")
        yield []
        return
    with archive:
        members = [i for i in archive.infolist() if i.filename in wanted]
        check_members(members, limits, issues)
        yield [] if issues.total else [(i, partial(_open_member, archive, i)) for i in members]


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    return io.BufferedReader(_Bounded(archive.open(info), info))


def _read_all(opener: Opener) -> bytes:
    with opener() as stream:
        return stream.read()


def _read_member(info: zipfile.ZipInfo, issues: Issues, read: Callable[[], T]) -> T | None:
    try:
        return read()
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
