"""Move a feed's service dates by whole weeks, so weekdays stay weekdays.

Used to replay an old timetable as if it ran now. Only calendar.txt and
calendar_dates.txt change; a holiday in calendar_dates moves with the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

_DATE_COLUMNS = {"calendar.txt": ("start_date", "end_date"), "calendar_dates.txt": ("date",)}


def first_service_date(source: Path) -> dt.date | None:
    """Return the earliest start_date of calendar.txt, or of calendar_dates.txt without one."""
    with zipfile.ZipFile(source) as zf:
        for name, column in (("calendar.txt", "start_date"), ("calendar_dates.txt", "date")):
            if name in zf.namelist():
                rows = csv.DictReader(io.StringIO(zf.read(name).decode("utf-8-sig")))
                dates = [_date(row[column]) for row in rows if row.get(column)]
                if dates:
                    return min(dates)
    return None


def shift_service_dates(source: Path, target: Path, weeks: int) -> Path:
    """Write a copy of the feed whose service dates are `weeks` later (earlier if negative)."""
    delta = dt.timedelta(weeks=weeks)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            columns = _DATE_COLUMNS.get(info.filename)
            if columns:
                data = _shift_csv(data.decode("utf-8-sig"), columns, delta).encode()
            out.writestr(info, data)  # the same entry, timestamp included
    return target


def _shift_csv(text: str, columns: tuple[str, ...], delta: dt.timedelta) -> str:
    rows = csv.DictReader(io.StringIO(text))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=rows.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for column in columns:
            if row.get(column):
                row[column] = (_date(row[column]) + delta).strftime("%Y%m%d")
        writer.writerow(row)
    return buffer.getvalue()


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text.strip(), "%Y%m%d").date()  # noqa: DTZ007 (a date, no zone)
