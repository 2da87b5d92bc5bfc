"""What fares refer to in an operator's timetable: stops, routes, networks, services, time zone.

Taken from the timetable files inside the zip (a full GTFS zip), or from the operator's
stored `GtfsTables` when the fares come alone. Ids come out namespaced like the fares.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from gtfs.tables import GtfsTables, namespaced
from operators.fares.csvfiles import Table

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Record = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TimetableContext:
    """Timetable ids the fares may reference; a None set means "not given, not checked".

    `service_dates` holds the dates of the services that timeframes use.
    """

    stop_ids: frozenset[str] | None = None
    parent_stations: Mapping[str, str] = field(default_factory=dict)
    stop_timezones: Mapping[str, str] = field(default_factory=dict)
    route_ids: frozenset[str] | None = None
    route_network_ids: Mapping[str, str] = field(default_factory=dict)
    service_ids: frozenset[str] | None = None
    service_dates: Mapping[str, frozenset[date]] | None = None
    timezone: str | None = None


class _Records:
    """A table's rows as records with some columns namespaced, streamed again at each pass."""

    def __init__(self, table: Table, ns: str, columns: tuple[str, ...]) -> None:
        self._table, self._ns, self._columns = table, ns, columns

    def __iter__(self) -> Iterator[dict[str, str]]:
        """Stream the records from the file."""
        for row in self._table.iter_rows():
            values = row.values
            for column in self._columns:
                if column in values:
                    values[column] = namespaced(self._ns, values[column])
            yield values


def _records(table: Table | None, ns: str, *columns: str) -> _Records | None:
    return None if table is None else _Records(table, ns, columns)


def _frame_records(frame: pd.DataFrame) -> list[dict[str, str]]:
    clean = frame.astype("string").fillna("")
    return [
        {str(k): str(v).strip() for k, v in r.items() if str(v).strip()}
        for r in clean.to_dict("records")
    ]


def service_dates_from(
    calendar: Iterable[Record], calendar_dates: Iterable[Record], wanted: Collection[str]
) -> dict[str, frozenset[date]]:
    """Expand calendar and calendar_dates records (ids already namespaced) for some services."""
    days: dict[str, set[date]] = {}
    for rec in calendar:
        sid = rec.get("service_id", "")
        start, end = _date(rec.get("start_date")), _date(rec.get("end_date"))
        if sid not in wanted or start is None or end is None:
            continue
        active = days.setdefault(sid, set())
        flags = [rec.get(day, "0") in ("1", "1.0", "True") for day in _WEEKDAYS]
        for offset in range((end - start).days + 1):
            when = start + timedelta(days=offset)
            if flags[when.weekday()]:
                active.add(when)
    for rec in calendar_dates:
        sid, day = rec.get("service_id", ""), _date(rec.get("date"))
        if sid not in wanted or day is None:
            continue
        if rec.get("exception_type") in ("1", "1.0"):
            days.setdefault(sid, set()).add(day)
        else:
            days.setdefault(sid, set()).discard(day)
    return {sid: frozenset(d) for sid, d in days.items()}


def _date(text: str | None) -> date | None:
    try:
        return datetime.strptime(text or "", "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        return None


def context_from_tables(
    tables: Mapping[str, Table], operator_id: str, wanted_services: Collection[str]
) -> TimetableContext:
    """Build the context from the timetable files of a zip (ids get namespaced here)."""
    ns = operator_id
    stops = _records(tables.get("stops.txt"), ns, "stop_id", "parent_station")
    routes = _records(tables.get("routes.txt"), ns, "route_id", "network_id")
    calendar = _records(tables.get("calendar.txt"), ns, "service_id")
    dates = _records(tables.get("calendar_dates.txt"), ns, "service_id")
    agency: Iterable[Record] = _records(tables.get("agency.txt"), ns) or []
    return _context(stops, routes, calendar, dates, agency, wanted_services)


def context_from_timetable(
    timetable: GtfsTables, wanted_services: Collection[str]
) -> TimetableContext:
    """Build the context from stored tables whose ids are already namespaced."""
    has_calendar = not (timetable.calendar.empty and timetable.calendar_dates.empty)
    return _context(
        _frame_records(timetable.stops),
        _frame_records(timetable.routes),
        _frame_records(timetable.calendar) if has_calendar else None,
        _frame_records(timetable.calendar_dates) if has_calendar else None,
        _frame_records(timetable.agency),
        wanted_services,
    )


def _ids(records: Iterable[Record] | None, column: str) -> frozenset[str] | None:
    return None if records is None else frozenset(r[column] for r in records if column in r)


def _scan(
    records: Iterable[Record] | None, key: str, *values: str
) -> tuple[frozenset[str] | None, list[dict[str, str]]]:
    """In one pass: the ids in `key`, and for each of `values` the id -> value pairs."""
    pairs: list[dict[str, str]] = [{} for _ in values]
    if records is None:
        return None, pairs
    ids: set[str] = set()
    for record in records:
        if (found := record.get(key)) is None:
            continue
        ids.add(found)
        for out, column in zip(pairs, values, strict=True):
            if column in record:
                out[found] = record[column]
    return frozenset(ids), pairs


def _context(
    stops: Iterable[Record] | None,
    routes: Iterable[Record] | None,
    calendar: Iterable[Record] | None,
    dates: Iterable[Record] | None,
    agency: Iterable[Record],
    wanted_services: Collection[str],
) -> TimetableContext:
    no_calendar = calendar is None and dates is None
    services = (_ids(calendar, "service_id") or frozenset()) | (
        _ids(dates, "service_id") or frozenset()
    )
    stop_ids, (parents, stop_zones) = _scan(stops, "stop_id", "parent_station", "stop_timezone")
    route_ids, (route_networks,) = _scan(routes, "route_id", "network_id")
    return TimetableContext(
        stop_ids=stop_ids,
        parent_stations=parents,
        stop_timezones=stop_zones,
        route_ids=route_ids,
        route_network_ids=route_networks,
        service_ids=None if no_calendar else services,
        service_dates=None
        if no_calendar
        else service_dates_from(calendar or [], dates or [], wanted_services),
        timezone=next((r["agency_timezone"] for r in agency if "agency_timezone" in r), None),
    )


def merge_contexts(own: TimetableContext, given: TimetableContext | None) -> TimetableContext:
    """Prefer the stored timetable: what the zip says only fills what the timetable lacks."""
    if given is None:
        return own
    with_calendar = given if given.service_ids is not None else own
    return TimetableContext(
        stop_ids=given.stop_ids,
        parent_stations=given.parent_stations,
        stop_timezones={**own.stop_timezones, **given.stop_timezones},
        route_ids=given.route_ids,
        route_network_ids={**own.route_network_ids, **given.route_network_ids},
        service_ids=with_calendar.service_ids,
        service_dates=with_calendar.service_dates,
        timezone=given.timezone or own.timezone,
    )
