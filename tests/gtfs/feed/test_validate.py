"""Validation of real feeds and of broken variants of a real feed (hsl-minimal.zip)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from gtfs.feed.validate.archive import FeedInvalid, ZipLimits, validate_zip
from tests.timetable_data import gtfs_path, rewrite_zip

Edit = Callable[[str], str] | str | None


def replace(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} is not in the file"
        return text.replace(old, new, count)

    return edit


def append_line(line: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n" + line + "\n"


#: (case, file, change, expected file, field, a fragment of the message)
BROKEN: list[tuple[str, str, Edit, str, str | None, str]] = [
    ("missing file", "routes.txt", None, "routes.txt", None, "required file is missing"),
    (
        "missing column",
        "stop_times.txt",
        replace("stop_id,stop_sequence", "stop,stop_sequence"),
        "stop_times.txt",
        "stop_id",
        "required column is missing",
    ),
    (
        "duplicate id",
        "stops.txt",
        append_line("1,1,Copy,Copy,60.16,24.73,01,,0,,2,,3"),
        "stops.txt",
        "stop_id",
        "duplicate stop_id",
    ),
    (
        "unknown trip",
        "stop_times.txt",
        replace("2143_1,05:45:00", "nosuchtrip,05:45:00"),
        "stop_times.txt",
        "trip_id",
        "'nosuchtrip' is not a trip_id of trips.txt",
    ),
    (
        "unknown stop",
        "stop_times.txt",
        replace("05:45:00,2,2", "05:45:00,999,2"),
        "stop_times.txt",
        "stop_id",
        "'999' is not a stop_id of stops.txt",
    ),
    (
        "unknown route",
        "trips.txt",
        replace("2143,HSL_TIMETABLE,2143_1", "9999,HSL_TIMETABLE,2143_1"),
        "trips.txt",
        "route_id",
        "'9999' is not a route_id of routes.txt",
    ),
    (
        "unknown agency",
        "routes.txt",
        replace("2143,HSL,", "2143,NOPE,"),
        "routes.txt",
        "agency_id",
        "'NOPE' is not a agency_id of agency.txt",
    ),
    (
        "unknown service",
        "trips.txt",
        replace("HSL_TIMETABLE,2143_1", "NOSERVICE,2143_1"),
        "trips.txt",
        "service_id",
        "'NOSERVICE' is in neither calendar.txt nor calendar_dates.txt",
    ),
    (
        "unknown parent station",
        "stops.txt",
        replace("60.160047,24.739703,01,,0, ,", "60.160047,24.739703,01,,0,XX,"),
        "stops.txt",
        "parent_station",
        "'XX' is not a stop_id of stops.txt",
    ),
    (
        "bad time",
        "stop_times.txt",
        replace("05:45:00,05:45:00", "05:61:00,05:61:00"),
        "stop_times.txt",
        "arrival_time",
        "'05:61:00' is not a time H:MM:SS",
    ),
    (
        "times going backwards",
        "stop_times.txt",
        replace("05:45:00,05:45:00", "05:30:00,05:30:00"),
        "stop_times.txt",
        "arrival_time",
        "before the previous stop's departure",
    ),
    (
        "latitude out of range",
        "stops.txt",
        replace("60.160047", "95.160047"),
        "stops.txt",
        "stop_lat",
        "95.160047 is outside [-90.0, 90.0]",
    ),
    (
        "coordinate not a number",
        "stops.txt",
        replace("24.739703", "east"),
        "stops.txt",
        "stop_lon",
        "'east' is not a number",
    ),
    (
        "bad time zone",
        "agency.txt",
        replace("Europe/Helsinki", "Europe/Nowhere"),
        "agency.txt",
        "agency_timezone",
        "'Europe/Nowhere' is not an IANA time zone",
    ),
    (
        "bad date",
        "calendar.txt",
        replace("20190305", "20191305"),
        "calendar.txt",
        "start_date",
        "'20191305' is not a date YYYYMMDD",
    ),
    (
        "first stop without time",
        "stop_times.txt",
        replace("2143_1,05:40:00,05:40:00", "2143_1,,"),
        "stop_times.txt",
        "arrival_time",
        "the first and last stop of a trip need times",
    ),
]


@pytest.fixture(scope="module")
def hsl(shared_data: Path) -> Path:
    return gtfs_path(shared_data, "hsl-minimal.zip")


@pytest.mark.parametrize(
    ("file", "change", "where", "field", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_feed_names_file_row_field(
    hsl: Path, tmp_path: Path, file: str, change: Edit, where: str, field: str | None, message: str
) -> None:
    broken = rewrite_zip(hsl, tmp_path / "broken.zip", {file: change})
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(broken)
    matching = [e for e in caught.value.errors if message in e.message]
    assert matching, [e.as_dict() for e in caught.value.errors]
    assert matching[0].file == where
    assert matching[0].field == field
    assert caught.value.total >= 1


def test_error_rows_are_csv_line_numbers(hsl: Path, tmp_path: Path) -> None:
    broken = rewrite_zip(
        hsl, tmp_path / "b.zip", {"stop_times.txt": replace("05:45:00,2,2", "05:45:00,999,2")}
    )
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(broken)
    # The header is line 1 and the changed row is the second data row.
    assert [e.row for e in caught.value.errors if e.field == "stop_id"] == [3]


def test_times_past_midnight_are_valid(hsl: Path, tmp_path: Path) -> None:
    late = rewrite_zip(
        hsl,
        tmp_path / "late.zip",
        {
            "stop_times.txt": lambda t: t.replace("05:40:00", "25:40:00").replace(
                "05:45:00", "25:45:00"
            )
        },
    )
    assert validate_zip(late).warning_total >= 0


def test_not_a_zip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "feed.zip"
    path.write_bytes(b"route_id,agency_id\n1,2\n")
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(path)
    assert caught.value.errors[0].message == "the upload is not a zip archive"


def test_zip_bomb_is_rejected_before_unpacking(hsl: Path, tmp_path: Path) -> None:
    bomb = rewrite_zip(hsl, tmp_path / "bomb.zip", {})
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("shapes.txt", "shape_id\n" + "0" * 4_000_000)
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(bomb, ZipLimits(max_ratio=100, ratio_min_bytes=1_000_000))
    assert "(a zip bomb?)" in caught.value.errors[0].message
    assert caught.value.errors[0].file == "shapes.txt"


def test_file_over_the_size_limit_is_rejected(hsl: Path) -> None:
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(hsl, ZipLimits(max_file_bytes=800, max_total_bytes=10_000))
    assert {e.file for e in caught.value.errors} == {"stop_times.txt"}
    assert "over the limit of 800" in caught.value.errors[0].message


def test_total_unpacked_size_limit(hsl: Path) -> None:
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(hsl, ZipLimits(max_total_bytes=1_000))
    assert "unpack to" in caught.value.errors[0].message


def test_not_utf8_csv_is_rejected(hsl: Path, tmp_path: Path) -> None:
    bad = rewrite_zip(hsl, tmp_path / "bad.zip", {"routes.txt": None})
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("routes.txt", b"route_id,route_type\n1,3\n\xff\xfe,3\n")
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(bad)
    assert caught.value.errors[0].file == "routes.txt"
    assert "not a readable CSV file" in caught.value.errors[0].message


def test_errors_list_the_first_hundred_and_count_all(hsl: Path, tmp_path: Path) -> None:
    rows = "\n".join(f"2143_1,05:50:00,05:50:00,nostop{i},{i + 10},,0,0,," for i in range(150))
    broken = rewrite_zip(hsl, tmp_path / "many.zip", {"stop_times.txt": append_line(rows)})
    with pytest.raises(FeedInvalid) as caught:
        validate_zip(broken)
    assert len(caught.value.errors) == 100
    assert caught.value.total == 150


@pytest.mark.parametrize(
    ("name", "warnings"),
    [
        ("hsl-minimal.zip", 1),
        ("kuopio.zip", 0),
        ("porto-alegre-trensurb.zip", 0),
        ("porto-alegre-eptc.zip", 2),
    ],
)
def test_real_feeds_pass(shared_data: Path, name: str, warnings: int) -> None:
    report = validate_zip(gtfs_path(shared_data, name))
    assert report.warning_total == warnings


def test_unread_files_are_warnings(hsl: Path) -> None:
    report = validate_zip(hsl)
    assert [w.as_dict() for w in report.warnings] == [
        {
            "file": "feed_info.txt",
            "row": None,
            "field": None,
            "message": "file not imported by the gateway",
        }
    ]


def test_frequencies_are_a_warning_that_says_what_it_means(hsl: Path, tmp_path: Path) -> None:
    feed = rewrite_zip(
        hsl,
        tmp_path / "freq.zip",
        {"frequencies.txt": "trip_id,start_time,end_time,headway_secs\nt1,06:00:00,09:00:00,600\n"},
    )
    messages = {w.file: w.message for w in validate_zip(feed).warnings}
    assert "run only once" in messages["frequencies.txt"]
