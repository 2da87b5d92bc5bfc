"""A fares zip cannot exhaust memory (issue 12, Edges): an honest zip bomb is refused from
its declared sizes, one with lying headers is never unpacked past what it declares."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from operators.fares.archive import FARES_ZIP_LIMITS
from operators.fares.csvfiles import MAX_ROWS
from operators.fares.loader import load_fares
from operators.fares.model import FaresValidationError
from tests.operators.fares.transcollines import OPERATOR

MEMBER_BYTES = 64 * 1024 * 1024
NAMES = (
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
    "agency.txt",
    "stops.txt",
    "routes.txt",
    "calendar.txt",
    "calendar_dates.txt",
)


@pytest.fixture(scope="module")
def deflated_header_lines() -> tuple[bytes, int]:
    """64 MiB of a valid CSV file, deflated once (the zips share it): data and CRC-32."""
    data = b"area_id\n" + b"A\n" * ((MEMBER_BYTES - 8) // 2)
    assert len(data) == MEMBER_BYTES
    return deflate(data), zlib.crc32(data)


def deflate(data: bytes) -> bytes:
    """Raw deflate, as a zip member holds it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_of(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already deflated members: (name, deflated data, CRC-32, declared size)."""
    body, directory = b"", b""
    for name, data, crc, size in members:
        raw = name.encode()
        fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0)
        directory += (
            struct.pack("<IH", 0x02014B50, 20)
            + fields
            + struct.pack("<HHHII", 0, 0, 0, 0, len(body))
            + raw
        )
        body += struct.pack("<I", 0x04034B50) + fields + raw + data
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(body), 0
    )
    return body + directory + end


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sixteen_members_of_64_mib_in_a_1_mb_zip_are_refused_unread(
    deflated_header_lines: tuple[bytes, int],
) -> None:
    data, crc = deflated_header_lines
    bomb = zip_of([(name, data, crc, MEMBER_BYTES) for name in NAMES])
    assert len(bomb) < 1_500_000
    with peak_memory() as peak, pytest.raises(FaresValidationError) as caught:
        load_fares(bomb, OPERATOR)
    messages = [(e.file, e.message) for e in caught.value.errors]
    assert ("stop_areas.txt", f"unpacks to {MEMBER_BYTES} bytes, over the limit of 16777216") in (
        messages
    )
    assert any(m.startswith("compression ratio") and "(a zip bomb?)" in m for _, m in messages)
    total = MEMBER_BYTES * len(NAMES)
    assert ("", f"the files unpack to {total} bytes, over the limit of 33554432") in messages
    assert peak() < 8 * 1024 * 1024


def test_members_that_declare_less_than_they_hold_are_never_unpacked_past_it(
    deflated_header_lines: tuple[bytes, int],
) -> None:
    data, crc = deflated_header_lines
    liar = zip_of([(name, data, crc, 1000) for name in NAMES])
    with peak_memory() as peak, pytest.raises(FaresValidationError) as caught:
        load_fares(liar, OPERATOR)
    # zipfile or the gateway's own CRC check, whichever sees it first: never a silent cut.
    assert all(e.message.startswith("the zip member is corrupt: ") for e in caught.value.errors)
    assert {e.file for e in caught.value.errors} == set(NAMES)
    assert peak() < 8 * 1024 * 1024


def test_members_each_within_limits_are_refused_together_over_the_total() -> None:
    rows = b"".join(b"A,%d\n" % i for i in range(330_000))  # 3 MiB, compresses about 4:1
    data = b"area_id,stop_id\n" + rows
    members = [(name, deflate(data), zlib.crc32(data), len(data)) for name in NAMES[:12]]
    with pytest.raises(FaresValidationError) as caught:
        load_fares(zip_of(members), OPERATOR)
    total = 12 * len(data)
    limit = FARES_ZIP_LIMITS.max_total_bytes
    assert [(e.file, e.message) for e in caught.value.errors] == [
        ("", f"the files unpack to {total} bytes, over the limit of {limit}")
    ]


def test_rows_past_the_budget_are_refused_without_keeping_them() -> None:
    rows = b"".join(b"GAT,%d\n" % i for i in range(MAX_ROWS + 1))
    data = b"area_id,stop_id\n" + rows
    member = [("stop_areas.txt", deflate(data), zlib.crc32(data), len(data))]
    with pytest.raises(FaresValidationError) as caught:
        load_fares(zip_of(member), OPERATOR)
    assert [(e.file, e.row, e.message) for e in caught.value.errors][:1] == [
        ("stop_areas.txt", MAX_ROWS + 2, f"more than {MAX_ROWS} rows in the fares")
    ]
