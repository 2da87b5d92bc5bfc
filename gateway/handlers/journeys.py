"""`GET /v1/journeys`: the merged network's journeys, each with its price (computed, not stored).

A GET writes nothing: each journey carries its price and the body of the
`POST /v1/offers` request that stores it as a bookable offer. That body names
trips, service dates and stops only, so the offer is priced again from the
timetable and nothing in it is the client's to change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, field_validator, model_validator

from gateway.api import api, json_response
from gateway.appkeys import cache_key, db_key, fares_key, realtime_key, timetable_key
from gateway.handlers.journeys_json import itinerary_json
from gateway.problems import domain_problem, with_suggestions
from gtfs.snapshot.stop_places import suggest_stop_ids
from journeys.errors import JourneyError, UnknownStopError
from journeys.itinerary import Itinerary, TransitLeg
from journeys.planner import Coordinates, Endpoint, JourneyQuery
from operators.fares.model import FareFeed
from sales.cache import Cache
from sales.errors import SalesError
from sales.offers import quote_offer
from sales.rides import Schedule
from sales.schemas import (
    ItineraryLegRequest,
    ItineraryOfferRequest,
    Moment,
    OfferCreate,
    Quote,
    Strict,
    Traveller,
)

_COORDINATES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class JourneyParams(Strict):
    """Where from and to (a stop id, or `lat,lon`), and when."""

    from_: str = Field(
        alias="from",
        min_length=1,
        max_length=200,
        description=(
            "where from: a stop id (e.g. `kuopion-liikenne:201804`) or `lat,lon` in WGS84 degrees"
        ),
    )
    to: str = Field(min_length=1, max_length=200, description="where to: a stop id or `lat,lon`")
    depart_at: Moment | None = Field(
        default=None,
        description=(
            "leave at or after this time, ISO 8601 with an offset (write `+` as `%2B`); default now"
        ),
    )
    arrive_by: Moment | None = Field(
        default=None, description="arrive at or before this time instead, ISO 8601 with an offset"
    )
    window_min: int = Field(default=0, ge=0, le=180, description="range query over this window")
    max_transfers: int = Field(default=4, ge=0, le=8, description="at most this many changes")
    wheelchair: bool = Field(
        default=False, description="only trips and stops accessible by wheelchair"
    )
    limit: int = Field(default=5, ge=1, le=20, description="at most this many journeys")
    max_walk_start_min: int | None = Field(
        default=None,
        ge=0,
        le=30,
        description=(
            "longest walk to the first vehicle, in minutes; default 15, and when the "
            "journeys within 15 minutes leave one waiting half an hour or more, a journey "
            "walking up to 30 minutes that arrives at least 15 minutes sooner is offered too"
        ),
    )
    max_walk_end_min: int | None = Field(
        default=None,
        ge=0,
        le=30,
        description="longest walk from the last vehicle, in minutes; default as for the start",
    )
    max_walk_transfer_min: int = Field(
        default=10, ge=0, le=30, description="longest walk between two vehicles, in minutes"
    )
    rider_category: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9:._-]{1,100}$",
        description=(
            "price the offers for this rider category (the operator's "
            "`rider_category_id`); default the operator's default one"
        ),
    )
    prices: bool = Field(default=True, description="price each journey with the operators' fares")

    @model_validator(mode="after")
    def _one_time(self) -> JourneyParams:
        if self.depart_at is not None and self.arrive_by is not None:
            raise ValueError("give depart_at or arrive_by, not both")
        return self

    @field_validator("from_", "to")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        match = _COORDINATES.match(value)
        if match and not (-90 <= float(match[1]) <= 90 and -180 <= float(match[2]) <= 180):
            raise ValueError("coordinates must be lat,lon within -90..90, -180..180")
        return value


def endpoint(value: str) -> Endpoint:
    """Read a stop id or `lat,lon`."""
    match = _COORDINATES.match(value)
    return Coordinates(float(match[1]), float(match[2])) if match else value


class PlaceOut(BaseModel):
    """A stop or a coordinate."""

    name: str = Field(description="the stop's name, or origin/destination for a coordinate")
    lat: float = Field(description="latitude, WGS 84 degrees")
    lon: float = Field(description="longitude, WGS 84 degrees")
    stop_id: str | None = Field(
        default=None, description="the operator's stop, none for a coordinate"
    )
    operator_id: str | None = Field(default=None, description="the stop's operator")
    place_id: str | None = Field(
        default=None,
        description="the place this stop shares with other operators' stops (`place:...`)",
    )


class StopCallOut(BaseModel):
    """A call at an intermediate stop."""

    stop: PlaceOut = Field(description="the stop called at")
    arrival: dt.datetime = Field(description="when the trip arrives there")
    departure: dt.datetime = Field(description="when it leaves")


class WalkLegOut(BaseModel):
    """Walking between two places."""

    mode: Literal["walk"] = Field(description="`walk`")
    from_place: PlaceOut = Field(description="where the walk starts")
    to_place: PlaceOut = Field(description="where it ends")
    departure: dt.datetime = Field(description="when it starts")
    arrival: dt.datetime = Field(description="when it ends")
    duration_s: int = Field(description="how long it takes, in seconds")
    distance_m: float = Field(description="how far, in metres")


class TransitLegOut(BaseModel):
    """A ride on one trip of one operator."""

    mode: Literal["transit"] = Field(description="`transit`")
    operator_id: str = Field(description="the operator running the trip")
    route_id: str = Field(description="the trip's route")
    route_short_name: str = Field(description="the route's short name (the line number)")
    route_long_name: str = Field(description="its long name")
    route_type: int = Field(
        description="GTFS `route_type`: 0 tram, 1 metro, 2 rail, 3 bus, 4 ferry, ..."
    )
    trip_id: str = Field(description="the trip ridden")
    service_date: dt.date | None = Field(
        default=None, description="the trip's service date (the day before past midnight)"
    )
    headsign: str = Field(
        description="where the trip is headed (its last stop when the feed gives none)"
    )
    from_place: PlaceOut = Field(description="where the leg boards")
    to_place: PlaceOut = Field(description="where it alights")
    departure: dt.datetime = Field(
        description="when it leaves `from_place` (the expected time when realtime data covers it)"
    )
    arrival: dt.datetime = Field(description="when it reaches `to_place`")
    duration_s: int = Field(description="how long the ride takes, in seconds")
    intermediate_stops: list[StopCallOut] = Field(description="the stops called at between")
    geometry: list[tuple[float, float]] = Field(
        description="[lat, lon] points of the ride: its shape, or its stops where the feed has none"
    )
    stay_seated: bool = Field(
        description="the ride continues the previous one in the same vehicle (block_id)"
    )
    realtime: bool = Field(description="realtime data moved this ride's times")
    transfer_s: int | None = Field(
        default=None,
        description="a change from the previous ride at the same stop or shared place: "
        "the minimum time the change needs",
    )


class ItineraryOut(BaseModel):
    """A journey; `offer` is its price, bookable by id with `POST /v1/bookings`."""

    id: str = Field(description="the journey's id")
    departure: dt.datetime = Field(description="when it starts")
    arrival: dt.datetime = Field(description="when it ends")
    duration_s: int = Field(description="how long it takes, in seconds")
    transfers: int = Field(description="how many changes")
    legs: list[Annotated[WalkLegOut | TransitLegOut, Field(discriminator="mode")]] = Field(
        description="its walks and rides, in order"
    )
    price: Quote | None = Field(default=None, description="its price, computed now, not stored")
    price_problem: str | None = Field(
        default=None, description="why it has no price (the problem's detail), when it has none"
    )
    offer_request: OfferCreate | None = Field(
        default=None, description="the body of `POST /v1/offers` that stores this journey's offer"
    )


class JourneyList(BaseModel):
    """Pareto-optimal journeys (departure, arrival, transfers), earliest departure first."""

    items: list[ItineraryOut] = Field(description="the journeys, earliest departure first")


def _query(params: JourneyParams) -> JourneyQuery:
    depart_at = params.depart_at
    if depart_at is None and params.arrive_by is None:
        depart_at = dt.datetime.now(dt.UTC)
    return JourneyQuery(
        origin=endpoint(params.from_),
        destination=endpoint(params.to),
        depart_at=depart_at,
        arrive_by=params.arrive_by,
        window_s=params.window_min * 60,
        max_transfers=params.max_transfers,
        wheelchair=params.wheelchair,
        limit=params.limit,
        max_walk_start_s=_seconds(params.max_walk_start_min),
        max_walk_end_s=_seconds(params.max_walk_end_min),
        max_walk_transfer_s=params.max_walk_transfer_min * 60,
    )


def _seconds(minutes: int | None) -> int | None:
    return None if minutes is None else minutes * 60


def offer_request(itinerary: Itinerary, rider_category: str | None) -> OfferCreate | None:
    """Return the offer request of an itinerary's transit legs (None for a walk-only one)."""
    legs = [
        ItineraryLegRequest(
            trip_id=leg.trip_id,
            service_date=leg.service_date,
            from_stop_id=leg.from_place.stop_id or "",
            to_stop_id=leg.to_place.stop_id or "",
        )
        for leg in itinerary.legs
        if isinstance(leg, TransitLeg) and leg.service_date is not None
    ]
    if not legs:
        return None
    return OfferCreate(
        itinerary=ItineraryOfferRequest(legs=legs),
        travellers=[Traveller(rider_category=rider_category)],
    )


async def _priced(
    pool: asyncpg.Pool,
    out: dict[str, Any],
    wanted: OfferCreate | None,
    fares: Mapping[str, FareFeed],
    schedule: Schedule,
    cache: Cache,
) -> None:
    """Attach the journey's price and offer request, or say why it cannot be priced."""
    if wanted is None:
        return
    out["offer_request"] = wanted.model_dump(mode="json", exclude_none=True)
    try:
        quote = await quote_offer(pool, wanted, fares, schedule, cache=cache)
    except SalesError as error:
        out["price_problem"] = error.detail
    else:
        out["price"] = quote.model_dump(mode="json", exclude_none=True)


@api.route(
    "GET",
    "/v1/journeys",
    summary="Plan journeys across every operator, each with its price",
    tag="journeys",
    query=JourneyParams,
    response=JourneyList,
    errors=(
        "timetable_loading",
        "unknown_stop",
        "outside_network",
        "date_outside_service",
        "invalid_query",
        "journey_error",
    ),
)
async def get_journeys(request: web.Request, query: JourneyParams) -> web.Response:
    """Plan with RAPTOR on the current snapshot; price each journey without storing anything."""
    timetable = request.app[timetable_key].get()
    overlay = request.app[realtime_key].state.overlay(timetable.generation)
    try:
        found = await asyncio.to_thread(timetable.planner.plan, _query(query), overlay)
    except UnknownStopError as exc:
        snap = timetable.snapshot
        suggested = suggest_stop_ids(snap.places, snap.stops.ids, exc.stop_id)
        raise with_suggestions(domain_problem(exc), suggested) from None
    except JourneyError as exc:
        raise domain_problem(exc) from None
    found = found[: query.limit]
    items = [itinerary_json(it) for it in found]  # the document of `JourneyList`
    if not query.prices:
        return json_response({"items": items})
    pool = request.app[db_key]
    fares = await request.app[fares_key].current(pool)  # once per request, not per journey
    schedule = Schedule(timetable.snapshot, overlay or {})  # the one the journeys were planned on
    cache = request.app[cache_key]  # operators' terms from memory, as offers read them
    for out, itinerary in zip(items, found, strict=True):
        wanted = offer_request(itinerary, query.rider_category)
        await _priced(pool, out, wanted, fares, schedule, cache)
    return json_response({"items": items})
