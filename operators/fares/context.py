"""What fares refer to in an operator's timetable: stops, routes, networks, services, time zone.

Taken from the timetable files inside the zip (a full GTFS zip), or from the operator's
stored `GtfsTables` when the fares come alone. Ids come out namespaced like the fares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from gtfs.tables import GtfsTables, namespaced
from operators.fares.csvfiles import Table

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Record = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TimetableContext:
    """Timetable ids the fares may reference; a None set means "not given, not checked"."""

    stop_ids: frozenset[str] | None = None
    parent_stations: Mapping[str, str] = field(default_factory=dict)
    route_ids: frozenset[str] | None = None
    route_network_ids: Mapping[str, str] = field(default_factory=dict)
    service_dates: Mapping[str, frozenset[date]] | None = None
    timezone: str | None = None


def _records(table: Table | None) -> list[dict[str, str]] | None:
    return None if table is None else [row.values for row in table.rows]


def _frame_records(frame: pd.DataFrame) -> list[dict[str, str]]:
    clean = frame.astype("string").fillna("")
    return [
        {str(k): str(v).strip() for k, v in r.items() if str(v).strip()}
        for r in clean.to_dict("records")
    ]


def service_dates_from(
    calendar: Iterable[Record], calendar_dates: Iterable[Record], ns: str | None
) -> dict[str, frozenset[date]]:
    """Expand calendar and calendar_dates records into the dates of each service."""
    days: dict[str, set[date]] = {}
    for rec in calendar:
        sid = _ns(ns, rec.get("service_id", ""))
        start, end = _date(rec.get("start_date")), _date(rec.get("end_date"))
        active = days.setdefault(sid, set())
        if start is None or end is None:
            continue
        flags = [rec.get(day, "0") in ("1", "1.0", "True") for day in _WEEKDAYS]
        for offset in range((end - start).days + 1):
            when = start + timedelta(days=offset)
            if flags[when.weekday()]:
                active.add(when)
    for rec in calendar_dates:
        sid, day = _ns(ns, rec.get("service_id", "")), _date(rec.get("date"))
        if day is None:
            continue
        if rec.get("exception_type") in ("1", "1.0"):
            days.setdefault(sid, set()).add(day)
        else:
            days.setdefault(sid, set()).discard(day)
    return {sid: frozenset(d) for sid, d in days.items()}


def _ns(operator_id: str | None, value: str) -> str:
    return value if operator_id is None else namespaced(operator_id, value)


def _date(text: str | None) -> date | None:
    try:
        return datetime.strptime(text or "", "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        return None


def context_from_tables(tables: Mapping[str, Table], operator_id: str) -> TimetableContext:
    """Build the context from the timetable files of a zip (ids get namespaced here)."""
    stops, routes = _records(tables.get("stops.txt")), _records(tables.get("routes.txt"))
    calendar, dates = (
        _records(tables.get("calendar.txt")),
        _records(tables.get("calendar_dates.txt")),
    )
    agency = _records(tables.get("agency.txt")) or []
    ns = operator_id
    return TimetableContext(
        stop_ids=None
        if stops is None
        else frozenset(_ns(ns, r["stop_id"]) for r in stops if "stop_id" in r),
        parent_stations=_parents(stops or [], ns),
        route_ids=None
        if routes is None
        else frozenset(_ns(ns, r["route_id"]) for r in routes if "route_id" in r),
        route_network_ids={
            _ns(ns, r["route_id"]): _ns(ns, r["network_id"])
            for r in routes or []
            if "route_id" in r and "network_id" in r
        },
        service_dates=None
        if calendar is None and dates is None
        else service_dates_from(calendar or [], dates or [], ns),
        timezone=next((r["agency_timezone"] for r in agency if "agency_timezone" in r), None),
    )


def _parents(stops: Iterable[Record], ns: str | None) -> dict[str, str]:
    return {
        _ns(ns, r["stop_id"]): _ns(ns, r["parent_station"])
        for r in stops
        if "stop_id" in r and "parent_station" in r
    }


def context_from_timetable(timetable: GtfsTables) -> TimetableContext:
    """Build the context from stored tables whose ids are already namespaced."""
    stops = _frame_records(timetable.stops[["stop_id", "parent_station"]])
    routes = timetable.routes
    network = routes[["route_id", "network_id"]] if "network_id" in routes else None
    agency = _frame_records(timetable.agency[["agency_timezone"]])
    calendar = _frame_records(timetable.calendar)
    has_calendar = not (timetable.calendar.empty and timetable.calendar_dates.empty)
    return TimetableContext(
        stop_ids=frozenset(r["stop_id"] for r in stops if "stop_id" in r),
        parent_stations=_parents(stops, None),
        route_ids=frozenset(str(r) for r in routes["route_id"].dropna()),
        route_network_ids={
            r["route_id"]: r["network_id"]
            for r in ([] if network is None else _frame_records(network))
            if "route_id" in r and "network_id" in r
        },
        service_dates=service_dates_from(calendar, _frame_records(timetable.calendar_dates), None)
        if has_calendar
        else None,
        timezone=next((r["agency_timezone"] for r in agency if "agency_timezone" in r), None),
    )


def merge_contexts(own: TimetableContext, given: TimetableContext | None) -> TimetableContext:
    """Prefer the stored timetable's ids; the zip's route networks and time zone fill gaps."""
    if given is None:
        return own
    return TimetableContext(
        stop_ids=given.stop_ids,
        parent_stations=given.parent_stations,
        route_ids=given.route_ids,
        route_network_ids={**given.route_network_ids, **own.route_network_ids},
        service_dates=given.service_dates if given.service_dates is not None else own.service_dates,
        timezone=given.timezone or own.timezone,
    )
