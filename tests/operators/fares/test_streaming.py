"""A fares load streams its rows (issue 12, Edges): no CSV line is kept as an object, only
what pricing needs; an error far into a file names its row."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from operators.fares.csvfiles import MAX_ROWS
from operators.fares.loader import load_fares
from operators.fares.model import FareIssue, FaresValidationError
from tests.operators.fares.synthetic import synthetic_fares_files, synthetic_fares_zip

MIB = 1024 * 1024


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_rows_far_past_the_budget_are_refused_holding_none_of_them() -> None:
    rows = b"".join(b"Z%02d,S%07d\n" % (i % 20, i) for i in range(3 * MAX_ROWS))
    archive = zip_of({"stop_areas.txt": b"area_id,stop_id\n" + rows})
    # Held as objects until the budget ran out, the rows took a 74 MiB peak (2026-12-03).
    with peak_memory() as peak, pytest.raises(FaresValidationError) as caught:
        load_fares(archive, "op")
    assert [(e.file, e.row, e.message) for e in caught.value.errors] == [
        ("stop_areas.txt", MAX_ROWS + 2, f"more than {MAX_ROWS} rows in the fares")
    ]
    assert peak() < 4 * MIB


def test_a_load_near_the_budget_holds_far_less_than_its_rows() -> None:
    stops = 60_000  # 120,000 rows in stops.txt and stop_areas.txt
    archive = synthetic_fares_zip(stops)
    # Rows held as objects peaked at 95 MiB (2026-12-03); streamed, the peak is about 23 MiB.
    with peak_memory() as peak:
        feed = load_fares(archive, "op")
    assert peak() < 48 * MIB
    assert len(feed.stop_areas) == stops
    assert feed.stop_areas["op:S0000021"] == frozenset({"op:Z01"})
    assert len(feed.leg_rules) == 400


def test_an_undefined_area_far_into_stop_areas_names_its_row() -> None:
    archive = synthetic_fares_zip(30_000, bad_area_row=23_456)
    with pytest.raises(FaresValidationError) as caught:
        load_fares(archive, "op")
    assert caught.value.errors == [
        FareIssue("stop_areas.txt", 23_456, "area_id", "'NOPE' is not defined in areas.txt")
    ]


def test_a_short_row_and_a_duplicate_far_into_a_file_name_their_rows() -> None:
    files = synthetic_fares_files(30_000)
    stops = files["stops.txt"].split(b"\n")
    stops[19_999] = b"S0019998,Stop,60.0"  # line 20,000: 3 fields
    areas = files["stop_areas.txt"].split(b"\n")
    areas[28_000] = areas[3]  # line 28,001 repeats line 4
    changed = {**files, "stops.txt": b"\n".join(stops), "stop_areas.txt": b"\n".join(areas)}
    with pytest.raises(FaresValidationError) as caught:
        load_fares(zip_of(changed), "op")
    assert [(e.file, e.row, e.field, e.message) for e in caught.value.errors] == [
        ("stops.txt", 20_000, "", "3 fields, header has 4"),
        (
            "stop_areas.txt",
            28_001,
            "",
            "duplicate key (area_id, stop_id), first on line 4",
        ),
    ]
