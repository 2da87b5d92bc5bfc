"""A feed's service period: the days its trips run, and the warnings that depend on today.

A calendar that has ended, or that runs nothing in the coming week, makes a valid
feed that plans no journey: the operator hears of it at upload and on every look.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from gtfs.feed.validate.issues import FeedIssue
from gtfs.snapshot.service import service_matrix
from gtfs.tables import GtfsTables

#: A feed with no service day within this many days from today gets a warning.
HORIZON_DAYS = 7


def service_dates(tables: GtfsTables) -> list[dt.date]:
    """Return every date on which at least one trip of the feed runs, in order."""
    services = pd.Index(pd.unique(tables.trips["service_id"].astype("string").dropna()))
    first, active = service_matrix(services, tables.calendar, tables.calendar_dates)
    days = np.flatnonzero(active.any(axis=0)) if active.size else np.zeros(0, dtype=np.int64)
    return [dt.date.fromordinal(first + int(d)) for d in days]


def service_warnings(dates: list[dt.date], today: dt.date) -> list[FeedIssue]:
    """Return the warnings of a service period as of `today`: ended, or nothing this week."""
    if not dates:
        return [FeedIssue("calendar.txt", None, None, "the feed's trips run on no date at all")]
    last = dates[-1]
    if last < today:
        message = (
            f"the service ended on {last.isoformat()}: no trip runs today ({today.isoformat()})"
            " or later; publish the new timetable"
        )
        return [FeedIssue("calendar.txt", None, "end_date", message)]
    horizon = today + dt.timedelta(days=HORIZON_DAYS - 1)
    upcoming = next(d for d in dates if d >= today)
    if upcoming > horizon:
        message = (
            f"no trip runs in the next {HORIZON_DAYS} days ({today.isoformat()}.."
            f"{horizon.isoformat()}); the next service day is {upcoming.isoformat()}"
        )
        return [FeedIssue("calendar.txt", None, "start_date", message)]
    return []
