"""GTFS-Realtime in: operators push feeds or configure URLs to poll, and read what was accepted."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from gateway import operator_store
from gateway.api import api, require_own_operator
from gateway.appkeys import db_key, realtime_key, settings_key
from gateway.problems import Problem, not_found
from gateway.realtime.poller import MAX_FEED_BYTES
from gateway.realtime.sources import (
    FEED_KINDS,
    FeedKind,
    RealtimeSources,
    find_sources,
    put_sources,
)
from gateway.uploads import read_limited
from gateway.urlguard import check_public_url
from gtfs.realtime.read import FeedReport, FeedVersionError, RealtimeFeedError

KIND_PATTERN = "|".join(FEED_KINDS)


class SourcesIn(BaseModel):
    """The URLs to poll (any may be null) and the interval between polls."""

    model_config = ConfigDict(extra="forbid")

    vehicle_positions_url: AnyHttpUrl | None = Field(
        default=None,
        description="a public https URL of the operator's GTFS-Realtime vehicle positions to poll",
    )
    trip_updates_url: AnyHttpUrl | None = Field(
        default=None, description="a public https URL of its trip updates"
    )
    alerts_url: AnyHttpUrl | None = Field(
        default=None, description="a public https URL of its service alerts"
    )
    poll_interval_s: float = Field(
        default=30.0, ge=0.2, le=3600, description="how often to poll each URL, in seconds"
    )


class SourcesOut(BaseModel):
    """An operator's GTFS-Realtime URLs and poll interval."""

    operator_id: str = Field(description="the operator")
    vehicle_positions_url: str | None = Field(
        default=None, description="the URL polled for vehicle positions"
    )
    trip_updates_url: str | None = Field(
        default=None, description="the URL polled for trip updates"
    )
    alerts_url: str | None = Field(default=None, description="the URL polled for alerts")
    poll_interval_s: float = Field(description="how often each URL is polled, in seconds")


class ReportOut(BaseModel):
    """What one feed held: entities accepted, ids the timetable lacks, and whether it is stale."""

    operator_id: str = Field(description="the operator whose feed it was")
    feed_kind: str = Field(description="`vehicle-positions`, `trip-updates` or `alerts`")
    header_timestamp_s: int | None = Field(
        default=None, description="the feed's own timestamp, Unix seconds"
    )
    age_s: int | None = Field(
        default=None, description="how old the feed was when it arrived, in seconds"
    )
    stale: bool = Field(description="older than the gateway accepts: its data is not applied")
    entity_count: int = Field(description="entities in the feed")
    accepted_count: int = Field(description="entities applied")
    unknown_trip_count: int = Field(description="entities naming a trip the timetable lacks")
    unknown_stop_count: int = Field(description="entities naming a stop the timetable lacks")
    unsupported_count: int = Field(description="entities of a kind the gateway does not read")
    unknown_trip_samples: list[str] = Field(description="some of the unknown trip ids, to look for")
    unknown_stop_samples: list[str] = Field(description="some of the unknown stop ids")
    received_s: float | None = Field(
        default=None, description="when the gateway received it, Unix seconds"
    )


class PollOut(BaseModel):
    """The state of polling one URL, as this process sees it."""

    url: str = Field(description="the URL polled")
    interval_s: float = Field(description="how often it is polled, in seconds")
    polls: int = Field(description="polls so far")
    not_modified: int = Field(description="polls answered 304 Not Modified")
    failures: int = Field(description="polls that failed")
    last_polled_s: float | None = Field(
        default=None, description="when it was last polled, Unix seconds"
    )
    last_status: int | None = Field(default=None, description="the HTTP status of the last poll")
    last_error: str | None = Field(default=None, description="why the last poll failed, if it did")
    next_delay_s: float = Field(description="seconds until the next poll (longer after failures)")
    polled_here: bool = Field(description="this gateway process holds the lease and polls it")


class RealtimeStatus(BaseModel):
    """The latest report of each feed kind and the polling state of each configured URL."""

    operator_id: str = Field(description="the operator")
    feeds: dict[str, ReportOut] = Field(description="the latest report per feed kind")
    polling: dict[str, PollOut] = Field(description="the polling state per feed kind")
    shared: bool = Field(
        description="whether updates reach every gateway process (Redis pub/sub is connected)"
    )


def report_out(report: FeedReport, received_s: float | None = None) -> ReportOut:
    """Describe a feed report."""
    return ReportOut(**dataclasses.asdict(report), received_s=received_s)


async def _own_operator(request: web.Request) -> str:
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    if await operator_store.find_operator(request.app[db_key], operator_id) is None:
        raise not_found("operator", operator_id)
    return operator_id


async def _read_feed(request: web.Request) -> bytes:
    """Return the pushed feed (an empty one is left to the decoder to refuse)."""
    too_large = Problem(413, "payload_too_large", "Payload too large", "the feed is too large")
    if request.content_length is not None and request.content_length > MAX_FEED_BYTES:
        raise too_large
    return await read_limited(request.content, MAX_FEED_BYTES, too_large)


def feed_problem(exc: RealtimeFeedError) -> Problem:
    """Return the 422 problem of a feed that cannot be used (the previous one stays)."""
    code = "feed_version_unsupported" if isinstance(exc, FeedVersionError) else "feed_undecodable"
    return Problem(
        422,
        code,
        "Not a usable GTFS-Realtime feed",
        f"{exc}; the previous feed stays in force",
    )


@api.route(
    "POST",
    "/v1/operators/{id}/realtime/{kind:" + KIND_PATTERN + "}",
    summary="Push a GTFS-Realtime FeedMessage (protobuf body)",
    tag="realtime",
    roles=("operator", "admin"),
    response=ReportOut,
    upload="application/x-protobuf",
    errors=("not_found", "payload_too_large", "feed_undecodable", "feed_version_unsupported"),
)
async def push_feed(request: web.Request) -> ReportOut:
    """Apply a pushed feed in every gateway process; 422 (state unchanged) if it is unusable."""
    operator_id = await _own_operator(request)
    kind: FeedKind = request.match_info["kind"]  # type: ignore[assignment]
    data = await _read_feed(request)
    try:
        applied = await request.app[realtime_key].ingest(operator_id, kind, data)
    except RealtimeFeedError as exc:
        raise feed_problem(exc) from None
    return report_out(applied.decoded.report, applied.feed.received_s)


@api.route(
    "GET",
    "/v1/operators/{id}/realtime",
    summary="The latest report of each realtime feed and the polling state",
    tag="realtime",
    roles=("operator", "admin"),
    response=RealtimeStatus,
    errors=("not_found",),
)
async def get_status(request: web.Request) -> RealtimeStatus:
    """Return what the operator's latest feeds held and how polling goes."""
    operator_id = await _own_operator(request)
    realtime = request.app[realtime_key]
    feeds: dict[str, ReportOut] = {}
    for kind in FEED_KINDS:
        held = realtime.state.find_feed(operator_id, kind)
        if held is not None:
            feeds[kind] = report_out(held.decoded.report, held.feed.received_s)
    polling: dict[str, PollOut] = {}
    if realtime.poller is not None:
        for (op, kind), status in realtime.poller.status.items():
            if op == operator_id:
                polling[kind] = PollOut(**_fields(status, PollOut))
    return RealtimeStatus(
        operator_id=operator_id, feeds=feeds, polling=polling, shared=realtime.bus.connected
    )


def _fields(obj: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in model.model_fields}


@api.route(
    "PUT",
    "/v1/operators/{id}/realtime-sources",
    summary="Set the GTFS-Realtime URLs the gateway polls",
    tag="realtime",
    roles=("operator", "admin"),
    body=SourcesIn,
    response=SourcesOut,
    errors=("not_found", "url_not_allowed"),
)
async def put_realtime_sources(request: web.Request, body: SourcesIn) -> SourcesOut:
    """Store the operator's realtime URLs; polling follows within seconds in every process."""
    operator_id = await _own_operator(request)
    allow_private = request.app[settings_key].allow_private_urls
    for field in ("vehicle_positions_url", "trip_updates_url", "alerts_url"):
        url = getattr(body, field)
        if url is not None:
            await check_public_url(str(url), field, allow_private)
    stored = await put_sources(
        request.app[db_key],
        RealtimeSources(
            operator_id=operator_id,
            vehicle_positions_url=_url(body.vehicle_positions_url),
            trip_updates_url=_url(body.trip_updates_url),
            alerts_url=_url(body.alerts_url),
            poll_interval_s=body.poll_interval_s,
        ),
    )
    poller = request.app[realtime_key].poller
    if poller is not None:
        poller.request_refresh()
    return SourcesOut(**_fields(stored, SourcesOut))


@api.route(
    "GET",
    "/v1/operators/{id}/realtime-sources",
    summary="The GTFS-Realtime URLs the gateway polls",
    tag="realtime",
    roles=("operator", "admin"),
    response=SourcesOut,
    errors=("not_found",),
)
async def get_realtime_sources(request: web.Request) -> SourcesOut:
    """Return the operator's realtime URLs (404 when none are configured)."""
    operator_id = await _own_operator(request)
    found = await find_sources(request.app[db_key], operator_id)
    if found is None:
        raise not_found("realtime sources of operator", operator_id)
    return SourcesOut(**_fields(found, SourcesOut))


def _url(value: AnyHttpUrl | None) -> str | None:
    return str(value) if value is not None else None
