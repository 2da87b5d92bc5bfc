"""Open essential data (no key, as the law wants): stops, departures, routes, the merged GTFS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.api import api
from gateway.appkeys import realtime_key, timetable_key
from gateway.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_offset, encode_cursor
from gateway.problems import not_found, with_suggestions
from gateway.realtime.departures import expected_departures
from gateway.timetable import Timetable
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.open_data import (
    list_departures_at,
    routes_at_stop,
    search_stops,
    service_period,
)
from gtfs.snapshot.stop_places import group_found, suggest_stop_ids
from journeys.errors import OutsideServiceError
from sales.schemas import Moment


def _text(value: object) -> str | None:
    """Return a table cell as text, None when empty."""
    if value is None or pd.isna(value) or str(value) == "":  # type: ignore[call-overload]
        return None
    return str(value)


def _int(value: object) -> int | None:
    """Return a table cell as an integer, None when empty."""
    text = _text(value)
    return int(float(text)) if text is not None else None


class StopsQuery(BaseModel):
    """Stops near a point (`near=lat,lon`, `radius_m`) and/or whose name contains `q`."""

    model_config = ConfigDict(extra="forbid")

    near: str | None = Field(
        default=None,
        pattern=r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
        description="`lat,lon` (WGS84 degrees): stops within `radius_m`, nearest first",
    )
    radius_m: float = Field(
        default=500.0, gt=0, le=5000, description="the radius around `near`, in metres"
    )
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="a part of the stop's name, in any case",
    )
    operator: str | None = Field(default=None, description="only this operator's stops")
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="how many stops per page"
    )
    cursor: str | None = Field(
        default=None,
        description="the `next_cursor` of the previous page; leave out for the first page",
    )

    @field_validator("near")
    @classmethod
    def _in_range(cls, value: str | None) -> str | None:
        if value is not None:
            lat, lon = (float(x) for x in value.split(","))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("lat must be in [-90, 90] and lon in [-180, 180]")
        return value


class StopOut(BaseModel):
    """A stop, platform or station; or a place several operators share, with their stops."""

    id: str = Field(description="`operator:stop_id`, or `place:stop_id` for a shared place")
    operator_id: str | None = Field(default=None, description="none for a shared place")
    name: str = Field(description="the stop's name (stop_name)")
    code: str | None = Field(
        default=None, description="the code riders see at the stop (stop_code)"
    )
    lat: float = Field(description="latitude, WGS 84 degrees")
    lon: float = Field(description="longitude, WGS 84 degrees")
    zone_id: str | None = Field(default=None, description="the fare zone, namespaced by operator")
    location_type: int | None = Field(
        default=None,
        description="GTFS location_type: 0 or none a stop, 1 a station or a shared place",
    )
    parent_station: str | None = Field(
        default=None, description="the station this stop belongs to in its operator's feed"
    )
    wheelchair_boarding: int = Field(
        description="0 unknown, 1 some boarding possible, 2 none (GTFS)"
    )
    platform_code: str | None = Field(
        default=None, description="the platform, where the feed names one"
    )
    distance_m: float | None = Field(default=None, description="distance from `near`, when given")
    stops: list[StopOut] | None = Field(
        default=None, description="at a shared place: each operator's stop there"
    )


class StopDetail(StopOut):
    """A stop and the routes that call at it."""

    route_ids: list[str] = Field(description="the routes that call at the stop")


class StopList(BaseModel):
    """A page of stops (nearest first with `near`)."""

    items: list[StopOut] = Field(description="the stops, nearest first with `near`")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last"
    )


class DeparturesQuery(BaseModel):
    """From when (ISO 8601 with offset; default now) and how many departures."""

    model_config = ConfigDict(extra="forbid")

    at: Moment | None = Field(
        default=None,
        description="from when, ISO 8601 with an offset (write `+` as `%2B` in a URL); default now",
    )
    limit: int = Field(default=20, ge=1, le=200, description="how many departures")


class DepartureOut(BaseModel):
    """One departure; `expected_at` and `delay_s` are set once realtime data covers the trip."""

    trip_id: str = Field(description="the trip, namespaced by operator")
    route_id: str = Field(description="the trip's route")
    route_short_name: str = Field(description="the route's short name, as riders see it")
    headsign: str = Field(description="where the trip goes")
    operator_id: str = Field(description="the operator that runs the trip")
    stop_id: str = Field(description="the operator's stop it leaves from (one of a shared place)")
    service_day: dt.date = Field(
        description="the service date the trip runs on (times past 24:00 count from it)"
    )
    scheduled_at: dt.datetime = Field(description="in the time zone of the trip's operator")
    expected_at: dt.datetime | None = Field(
        default=None, description="the departure expected by realtime data, when it covers the trip"
    )
    delay_s: int | None = Field(
        default=None, description="seconds late (negative: early), from realtime data"
    )
    cancelled: bool = Field(default=False, description="realtime data cancels this departure")
    realtime: bool = Field(default=False, description="realtime data covers this trip")
    wheelchair_accessible: int = Field(description="0 unknown, 1 accessible, 2 not (GTFS)")


class Departures(BaseModel):
    """The next departures from a stop, soonest first."""

    stop_id: str = Field(description="the stop")
    items: list[DepartureOut] = Field(description="the departures, soonest first")


class RoutesQuery(BaseModel):
    """Routes of one operator, or all."""

    model_config = ConfigDict(extra="forbid")

    operator: str | None = Field(default=None, description="only this operator's routes")
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="how many routes per page"
    )
    cursor: str | None = Field(
        default=None,
        description="the `next_cursor` of the previous page; leave out for the first page",
    )


class RouteOut(BaseModel):
    """A route."""

    id: str = Field(description="the route id, prefixed with its operator's id")
    operator_id: str = Field(description="the operator running it")
    agency_id: str | None = Field(default=None, description="its agency in the operator's feed")
    short_name: str | None = Field(default=None, description="its short name (the line number)")
    long_name: str | None = Field(default=None, description="its long name")
    route_type: int = Field(
        description="GTFS `route_type`: 0 tram, 1 metro, 2 rail, 3 bus, 4 ferry, ..."
    )
    color: str | None = Field(default=None, description="its colour, hex without `#`")
    text_color: str | None = Field(
        default=None, description="the colour of text on it, hex without `#`"
    )
    trip_count: int = Field(description="how many trips it has in the timetable")


class RouteList(BaseModel):
    """A page of routes."""

    items: list[RouteOut] = Field(description="the routes")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last"
    )


def _stop_out(timetable: Timetable, i: int, distance_m: float | None = None) -> StopOut:
    stops, row = timetable.snapshot.stops, timetable.index.stops.iloc[i]
    return StopOut(
        id=stops.ids[i],
        operator_id=stops.operator_ids[i],
        name=stops.names[i],
        code=_text(row["stop_code"]),
        lat=float(stops.lat[i]),
        lon=float(stops.lon[i]),
        zone_id=_text(row["zone_id"]),
        location_type=_int(row["location_type"]),
        parent_station=_text(row["parent_station"]),
        wheelchair_boarding=int(stops.wheelchair[i]),
        platform_code=_text(row["platform_code"]),
        distance_m=round(distance_m, 1) if distance_m is not None else None,
    )


def _place_out(timetable: Timetable, place: int, members: list[StopOut]) -> StopOut:
    first = members[0]
    access = {m.wheelchair_boarding for m in members}
    return StopOut(
        id=timetable.snapshot.places.ids[place],
        name=first.name,
        lat=first.lat,
        lon=first.lon,
        location_type=1,
        wheelchair_boarding=1 if 1 in access else (2 if access == {2} else 0),
        distance_m=min((m.distance_m for m in members if m.distance_m is not None), default=None),
        stops=members,
    )


def _entry_out(
    timetable: Timetable, place: int, stops: Sequence[int], distance_m: Mapping[int, float]
) -> StopOut:
    members = [_stop_out(timetable, int(i), distance_m.get(int(i))) for i in stops]
    return members[0] if place < 0 else _place_out(timetable, place, members)


def _stops_of(timetable: Timetable, stop_id: str) -> tuple[int, list[int]]:
    """Return (place index or -1, stop indices) of a stop or place id; 404 with suggestions."""
    snap = timetable.snapshot
    i = snap.stops.index.get(stop_id)
    if i is not None:
        return -1, [i]
    place = snap.places.index.get(stop_id)
    if place is not None:
        return place, snap.places.members_of(place).tolist()
    suggested = suggest_stop_ids(snap.places, snap.stops.ids, stop_id)
    raise with_suggestions(not_found("stop", stop_id), suggested)


def check_service_date(snap: Snapshot, at: dt.datetime) -> None:
    """Raise `OutsideServiceError` for a moment no departure of the timetable can follow.

    As journeys do: the day before the first service day looks ahead into it, and the
    day after the last still has the trips of the last evening that run past midnight.
    """
    period = service_period(snap)
    day = at.astimezone(ZoneInfo(snap.timezone)).date()
    if period is None:
        raise OutsideServiceError(day.isoformat(), "none", "none")
    first, last = period
    if not first - dt.timedelta(days=1) <= day <= last + dt.timedelta(days=1):
        raise OutsideServiceError(day.isoformat(), first.isoformat(), last.isoformat())


@api.route(
    "GET",
    "/v1/stops",
    summary="Find stops",
    tag="open data",
    query=StopsQuery,
    response=StopList,
    errors=("timetable_loading", "invalid_cursor"),
)
async def list_stops(request: web.Request, query: StopsQuery) -> StopList:
    """List stops near a point and/or by name, a page at a time."""
    timetable = request.app[timetable_key].get()
    near = tuple(float(x) for x in query.near.split(",")) if query.near else None
    found, distance = search_stops(timetable.index, near, query.radius_m, query.q)  # type: ignore[arg-type]
    if query.operator:
        keep = [timetable.snapshot.stops.operator_ids[i] == query.operator for i in found]
        found = found[keep]
        distance = distance[keep] if distance is not None else None
    entries = group_found(timetable.snapshot.places, found)
    distance_m = (
        dict(zip(found.tolist(), distance.tolist(), strict=True)) if distance is not None else {}
    )
    start = decode_offset(query.cursor)
    end = start + query.limit
    items = [_entry_out(timetable, p, stops, distance_m) for p, stops in entries[start:end]]
    return StopList(items=items, next_cursor=encode_cursor(end) if end < len(entries) else None)


@api.route(
    "GET",
    "/v1/stops/{id}",
    summary="A stop",
    tag="open data",
    response=StopDetail,
    errors=("timetable_loading", "not_found"),
)
async def get_stop(request: web.Request) -> StopDetail:
    """Return one stop (or shared place) and the routes that serve it."""
    timetable = request.app[timetable_key].get()
    place, stops = _stops_of(timetable, request.match_info["id"])
    stop = _entry_out(timetable, place, stops, {})
    routes = sorted({r for i in stops for r in routes_at_stop(timetable.index, i)})
    return StopDetail(**stop.model_dump(exclude={"stops"}), stops=stop.stops, route_ids=routes)


@api.route(
    "GET",
    "/v1/stops/{id}/departures",
    summary="Scheduled departures from a stop",
    tag="open data",
    query=DeparturesQuery,
    response=Departures,
    errors=("timetable_loading", "not_found", "date_outside_service"),
)
async def get_departures(request: web.Request, query: DeparturesQuery) -> Departures:
    """Return the next departures from a stop at or after `at`."""
    timetable = request.app[timetable_key].get()
    stop_id = request.match_info["id"]
    _, stops = _stops_of(timetable, stop_id)
    at = query.at or dt.datetime.now(dt.UTC)
    check_service_date(timetable.snapshot, at)
    scheduled = list_departures_at(timetable.index, stops, at, query.limit)
    overlay = request.app[realtime_key].state.overlay(timetable.generation)
    expected = expected_departures(scheduled, overlay)
    items = [
        DepartureOut(
            trip_id=d.trip_id,
            route_id=d.route_id,
            route_short_name=d.route_short_name,
            headsign=d.headsign,
            operator_id=d.operator_id,
            stop_id=timetable.snapshot.stops.ids[d.stop],
            service_day=d.service_day,
            scheduled_at=d.departure_at,
            expected_at=e.expected_at,
            delay_s=e.delay_s,
            cancelled=e.cancelled,
            realtime=e.realtime,
            wheelchair_accessible=d.wheelchair_accessible,
        )
        for d, e in zip(scheduled, expected, strict=True)
    ]
    return Departures(stop_id=stop_id, items=items)


def _route_out(timetable: Timetable, i: int) -> RouteOut:
    routes, row = timetable.snapshot.routes, timetable.index.routes.iloc[i]
    return RouteOut(
        id=routes.ids[i],
        operator_id=routes.operator_ids[i],
        agency_id=_text(row["agency_id"]),
        short_name=routes.short_names[i] or None,
        long_name=routes.long_names[i] or None,
        route_type=int(routes.route_type[i]),
        color=_text(row["route_color"]),
        text_color=_text(row["route_text_color"]),
        trip_count=int(timetable.index.route_trip_counts[i]),
    )


@api.route(
    "GET",
    "/v1/routes",
    summary="List routes",
    tag="open data",
    query=RoutesQuery,
    response=RouteList,
    errors=("timetable_loading", "invalid_cursor"),
)
async def list_routes(request: web.Request, query: RoutesQuery) -> RouteList:
    """List routes, of one operator or all, a page at a time."""
    timetable = request.app[timetable_key].get()
    routes = timetable.snapshot.routes
    found = [i for i, op in enumerate(routes.operator_ids) if query.operator in (None, op)]
    start = decode_offset(query.cursor)
    end = start + query.limit
    items = [_route_out(timetable, i) for i in found[start:end]]
    return RouteList(items=items, next_cursor=encode_cursor(end) if end < len(found) else None)


@api.route(
    "GET",
    "/v1/routes/{id}",
    summary="A route",
    tag="open data",
    response=RouteOut,
    errors=("timetable_loading", "not_found"),
)
async def get_route(request: web.Request) -> RouteOut:
    """Return one route."""
    timetable = request.app[timetable_key].get()
    route_id = request.match_info["id"]
    try:
        i = timetable.snapshot.routes.ids.index(route_id)
    except ValueError:
        raise not_found("route", route_id) from None
    return _route_out(timetable, i)


@api.route(
    "GET",
    "/v1/gtfs/merged.zip",
    summary="Every operator's timetable as one GTFS feed",
    tag="open data",
    media_types=("application/zip",),
    errors=("timetable_loading",),
)
async def merged_zip(request: web.Request) -> web.Response:
    """Serve the merged GTFS zip of the current timetable."""
    timetable, data = await request.app[timetable_key].merged_zip()
    versions = "-".join(map(str, timetable.version_ids))
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="merged-gtfs.zip"',
            "ETag": f'"timetable-{timetable.generation}-{versions}"',
        },
    )


@api.route(
    "GET",
    "/v1/network.geojson",
    summary="The merged network as GeoJSON: routes as lines, stops as points",
    tag="open data",
    media_types=("application/geo+json",),
    errors=("timetable_loading",),
)
async def network_geojson(request: web.Request) -> web.Response:
    """Serve the current timetable's network as a GeoJSON FeatureCollection (RFC 7946)."""
    timetable, data = await request.app[timetable_key].network_geojson()
    return web.Response(
        body=data,
        content_type="application/geo+json",
        headers={"ETag": f'"network-{timetable.generation}"'},
    )
