"""GTFS-Realtime out (open data): live vehicles, a Server-Sent Events stream, merged feeds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.api import api
from gateway.appkeys import realtime_key
from gateway.problems import Problem
from gateway.realtime.sources import FEED_KINDS, FeedKind
from gtfs.realtime.read import VehiclePosition, feed_message_json, vehicle_position_to_json
from gtfs.snapshot.footpaths import great_circle_m

_COORDS = r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?"
#: Streams one process serves at once; more get 503 (clients should poll /v1/vehicles then).
MAX_STREAMS = 200
#: A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_S = 15.0
#: How soon a stream notices that its client left while no update arrives.
DISCONNECT_CHECK_S = 1.0


class VehiclesQuery(BaseModel):
    """Vehicles in a box (`bbox=minlat,minlon,maxlat,maxlon`) or a circle, of a route/operator."""

    model_config = ConfigDict(extra="forbid")

    bbox: str | None = Field(
        default=None,
        pattern=_COORDS + r",-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
        description="`min_lat,min_lon,max_lat,max_lon`: vehicles inside this box",
    )
    near: str | None = Field(
        default=None,
        pattern=_COORDS + "$",
        description="`lat,lon`: vehicles within `radius_m` of this point",
    )
    radius_m: float = Field(
        default=1000.0, gt=0, le=50_000, description="the radius around `near`, in metres"
    )
    route: str | None = Field(default=None, description="only vehicles on this route id")
    operator: str | None = Field(default=None, description="only this operator's vehicles")
    limit: int = Field(default=1000, ge=1, le=10_000, description="at most this many vehicles")

    @model_validator(mode="after")
    def _one_area(self) -> VehiclesQuery:
        if self.bbox and self.near:
            raise ValueError("give bbox or near, not both")
        return self

    def matches(self, v: VehiclePosition) -> bool:
        """Tell whether a vehicle passes every filter given."""
        if self.operator is not None and v.operator_id != self.operator:
            return False
        if self.route is not None and v.route_id != self.route:
            return False
        if self.bbox:
            min_lat, min_lon, max_lat, max_lon = (float(x) for x in self.bbox.split(","))
            return min_lat <= v.lat <= max_lat and min_lon <= v.lon <= max_lon
        if self.near:
            lat, lon = (float(x) for x in self.near.split(","))
            return great_circle_m(lat, lon, v.lat, v.lon) <= self.radius_m
        return True


class StreamQuery(VehiclesQuery):
    """The filters of `/v1/vehicles`, and how long the stream stays open."""

    max_s: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="end the stream after this many seconds (reconnect to go on)",
    )


class VehicleList(BaseModel):
    """Live vehicles that match the query."""

    items: list[VehiclePosition] = Field(description="the vehicles' latest positions")
    total: int = Field(description="how many matched before `limit`")


def _matching(
    query: VehiclesQuery, positions: Iterable[VehiclePosition]
) -> list[dict[str, object]]:
    return [vehicle_position_to_json(v) for v in positions if query.matches(v)]


@api.route(
    "GET",
    "/v1/vehicles",
    summary="Live vehicle positions",
    tag="realtime",
    query=VehiclesQuery,
    response=VehicleList,
)
async def list_vehicles(request: web.Request, query: VehiclesQuery) -> VehicleList:
    """Return live vehicles in an area, of a route or an operator."""
    found = _matching(query, request.app[realtime_key].state.positions())
    items = list(found[: query.limit])
    return VehicleList(items=items, total=len(found))


def _event(name: str, data: object) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@api.route(
    "GET",
    "/v1/vehicles/stream",
    summary="Live vehicle positions as Server-Sent Events",
    tag="realtime",
    query=StreamQuery,
    media_types=("text/event-stream",),
    errors=("too_many_streams",),
)
async def stream_vehicles(request: web.Request, query: StreamQuery) -> web.StreamResponse:
    """Send the matching vehicles now, then each update, until `max_s` or the client leaves."""
    state = request.app[realtime_key].state
    if state.listener_count >= MAX_STREAMS:
        raise Problem(
            503,
            "too_many_streams",
            "Too many streams",
            "poll /v1/vehicles instead",
            headers={"Retry-After": "30"},
        )
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    with state.listen() as queue:
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            await response.write(_event("vehicles", _matching(query, state.positions())))
            await _follow(request, response, queue, query)
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[tuple[VehiclePosition, ...]],
    query: StreamQuery,
) -> None:
    deadline = time.monotonic() + query.max_s
    quiet_since = time.monotonic()
    while (left_s := deadline - time.monotonic()) > 0:
        if request.transport is None or request.transport.is_closing():
            return  # the client left: stop listening at once
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can drop a cancel (or a batch)
            async with asyncio.timeout(min(left_s, DISCONNECT_CHECK_S)):
                batch = await queue.get()
        except TimeoutError:
            if time.monotonic() - quiet_since >= HEARTBEAT_S:
                await response.write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
            continue
        found = _matching(query, batch)
        if found:
            await response.write(_event("vehicles", found))
            quiet_since = time.monotonic()
    await response.write(_event("end", {"reason": "max_s reached; reconnect to go on"}))


class FeedQuery(BaseModel):
    """`format=json` renders the FeedMessage for people."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["pb", "json"] = Field(
        default="pb",
        description="`pb`: the protobuf FeedMessage; `json`: the same for people to read",
    )


async def _feed_response(request: web.Request, kind: FeedKind, query: FeedQuery) -> web.Response:
    merged = await request.app[realtime_key].merged.get(kind)
    headers = {"ETag": merged.etag, "Cache-Control": "public, max-age=5"}
    if request.headers.get("If-None-Match") == merged.etag:
        return web.Response(status=304, headers=headers)
    if query.format == "json":
        text = await asyncio.to_thread(feed_message_json, merged.message)
        return web.Response(text=text, content_type="application/json", headers=headers)
    return web.Response(body=merged.data, content_type="application/x-protobuf", headers=headers)


def _merged_feed_route(kind: FeedKind) -> None:
    async def handler(request: web.Request, query: FeedQuery) -> web.Response:
        return await _feed_response(request, kind, query)

    handler.__name__ = f"merged_{kind.replace('-', '_')}"
    handler.__doc__ = f"Serve every operator's {kind} as one FeedMessage."
    api.route(
        "GET",
        f"/v1/gtfs-rt/{kind}.pb",
        summary=f"Every operator's GTFS-Realtime {kind.replace('-', ' ')} as one FeedMessage",
        tag="open data",
        query=FeedQuery,
        # `?format=json` answers the same FeedMessage as JSON (protobuf's JSON mapping)
        media_types=("application/x-protobuf", "application/json"),
        also=((304, "unchanged since the `ETag` sent as `If-None-Match`"),),
    )(handler)


for _kind in FEED_KINDS:
    _merged_feed_route(_kind)
