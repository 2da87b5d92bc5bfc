"""A feed's service period and the warnings that depend on today, on real feeds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from gtfs.feed.read import read_tables
from gtfs.feed.service_period import HORIZON_DAYS, service_dates, service_warnings
from tests.timetable_data import gtfs_path

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _calendar(path: Path, name: str = "calendar.txt") -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as zf:
        return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8-sig"))))


def _day(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def test_hsl_runs_on_the_weekdays_of_its_calendar(shared_data: Path) -> None:
    path = gtfs_path(shared_data, "hsl-minimal.zip")
    (row,) = _calendar(path)  # one service, no calendar_dates
    start, end = _day(row["start_date"]), _day(row["end_date"])
    expected = [
        start + dt.timedelta(days=n)
        for n in range((end - start).days + 1)
        if row[WEEKDAYS[(start + dt.timedelta(days=n)).weekday()]] == "1"
    ]
    assert service_dates(read_tables(path, "hsl")) == expected


def test_kuopio_runs_within_its_calendar_and_its_added_dates(shared_data: Path) -> None:
    path = gtfs_path(shared_data, "kuopio.zip")
    dates = service_dates(read_tables(path, "kuopio"))
    rows = _calendar(path)
    added = [
        _day(r["date"]) for r in _calendar(path, "calendar_dates.txt") if r["exception_type"] == "1"
    ]
    assert dates == sorted(set(dates))
    assert dates[0] >= min([_day(r["start_date"]) for r in rows] + added)
    assert dates[-1] <= max([_day(r["end_date"]) for r in rows] + added)
    assert set(added) <= set(dates)
    assert len(dates) > 100


def test_an_ended_service_warns_with_its_last_day() -> None:
    dates = [dt.date(2017, 6, 1), dt.date(2017, 6, 2)]
    (warning,) = service_warnings(dates, dt.date(2026, 12, 2))
    assert warning.file == "calendar.txt"
    assert "ended on 2017-06-02" in warning.message
    assert "today (2026-12-02)" in warning.message


def test_no_service_in_the_coming_week_warns_with_the_next_day() -> None:
    today = dt.date(2026, 12, 2)
    later = today + dt.timedelta(days=HORIZON_DAYS)
    (warning,) = service_warnings([later, later + dt.timedelta(days=1)], today)
    assert f"next {HORIZON_DAYS} days" in warning.message
    assert f"next service day is {later.isoformat()}" in warning.message
    gap = [today - dt.timedelta(days=3), later]  # ran last week, runs again next week
    assert len(service_warnings(gap, today)) == 1


def test_a_service_running_this_week_has_no_warning() -> None:
    today = dt.date(2026, 12, 2)
    assert service_warnings([today + dt.timedelta(days=HORIZON_DAYS - 1)], today) == []
    assert service_warnings([today], today) == []


def test_a_feed_that_runs_on_no_date_warns() -> None:
    assert "no date at all" in service_warnings([], dt.date(2026, 12, 2))[0].message
