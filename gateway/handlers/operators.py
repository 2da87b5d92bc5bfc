"""Operators and their timetables: onboarding (admin), the open list, publishing a GTFS feed."""

from __future__ import annotations

import asyncio
import zoneinfo
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway import operator_store
from gateway.api import api, json_response, require_own_operator
from gateway.appkeys import cache_key, database_url_key, db_key, settings_key, timetable_key
from gateway.feeds import publish_in_child
from gateway.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from gateway.problems import conflict, not_found
from gateway.uploads import new_upload_path, receive_upload
from gtfs.feed.service_period import service_warnings
from gtfs.feed.store import FeedVersion, list_feed_versions
from sales.signing import ensure_signing_key

OPERATOR_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


class OperatorCreate(BaseModel):
    """A new operator: a slug id, a name, and how its tickets are sold."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=OPERATOR_ID,
        description=(
            "the operator's id: lower case letters, digits and dashes; prefixes "
            "every id of its feed"
        ),
    )
    name: str = Field(min_length=1, max_length=200, description="the operator's public name")
    business_id: str | None = Field(
        default=None, max_length=40, description="its business id (Y-tunnus in Finland)"
    )
    contact_email: str | None = Field(
        default=None, max_length=200, description="where the gateway's operator reaches it"
    )
    timezone: str = Field(
        default="Europe/Helsinki",
        description="its IANA time zone: its fares' and tickets' local dates",
    )
    sales_channel: Literal["hosted", "tomp"] = Field(
        default="hosted",
        description=(
            "`hosted`: the gateway sells and signs tickets for it; `tomp`: its own "
            "TOMP-API back-end at `tomp_url` confirms bookings"
        ),
    )
    terms_url: str | None = Field(
        default=None, max_length=500, description="its terms of carriage, shown with its offers"
    )
    tomp_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://",
        description="base URL of the operator's TOMP-API 1.6 back-end (`tomp` only)",
        examples=["https://tomp.ferry.example/api"],
    )
    tomp_token: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="bearer token the gateway sends to the back-end (`tomp` only); stored "
        "encrypted with MAAS_SIGNING_KEY_SECRET and never shown again",
    )

    @field_validator("id")
    @classmethod
    def _not_place(cls, value: str) -> str:
        if value == "place":
            raise ValueError("'place' is reserved: place:<stop id> names a stop operators share")
        return value

    @model_validator(mode="after")
    def _backend(self) -> OperatorCreate:
        if self.sales_channel == "tomp" and self.tomp_url is None:
            raise ValueError("an operator selling over tomp needs tomp_url")
        if self.sales_channel == "hosted" and (self.tomp_url or self.tomp_token):
            raise ValueError("tomp_url and tomp_token are for sales_channel tomp")
        return self

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value


class FeedSummary(BaseModel):
    """One stored feed version."""

    id: int = Field(description="the version id")
    sha256: str = Field(description="SHA-256 of the uploaded zip (and of the agency taken from it)")
    created_at: datetime = Field(description="when it was uploaded")
    activated_at: datetime | None = Field(default=None, description="when it last became current")
    status: str = Field(description="ready (its tables are kept) or pruned")
    is_current: bool = Field(description="the version the timetable uses")
    counts: dict[str, int] = Field(description="rows per GTFS table")
    service_start: date | None = Field(default=None, description="the first day a trip runs")
    service_end: date | None = Field(default=None, description="the last day a trip runs")
    warnings: list[dict[str, Any]] = Field(
        description="the upload's warnings, and as of today: a service that has ended or that "
        "runs no trip in the next 7 days (in the operator's time zone)",
    )
    warning_total: int = Field(description="how many warnings, listed or not")


class OperatorOut(BaseModel):
    """An operator as published."""

    id: str = Field(description="the operator's id: the prefix of every id of its feed")
    name: str = Field(description="its public name")
    business_id: str | None = Field(default=None, description="its business id")
    contact_email: str | None = Field(
        default=None, description="where the gateway's operator reaches it"
    )
    timezone: str = Field(description="its IANA time zone")
    sales_channel: str = Field(description="`hosted` or `tomp`")
    terms_url: str | None = Field(default=None, description="its terms of carriage")
    created_at: datetime = Field(description="when it was onboarded")


class OperatorList(BaseModel):
    """A page of operators; pass `next_cursor` back as `cursor` for the next one."""

    items: list[OperatorOut] = Field(description="the operators, by id")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; absent on the last"
    )


class PageQuery(BaseModel):
    """Paging of a list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="how many items per page"
    )
    cursor: str | None = Field(
        default=None,
        description="the `next_cursor` of the previous page; leave out for the first page",
    )


class FeedQuery(BaseModel):
    """Which agency of a shared feed this operator publishes (default: the whole feed)."""

    model_config = ConfigDict(extra="forbid")

    agency_id: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "publish only this agency's part of a feed that carries several (its "
            "`agency_id` in agency.txt)"
        ),
    )


class FeedPublished(BaseModel):
    """What publishing did: the version now current and whether anything changed."""

    operator_id: str = Field(description="the operator")
    version_id: int = Field(description="the version now current")
    changed: bool = Field(
        description="the current version changed (false: this feed was already current)"
    )
    created: bool = Field(
        description="a new version was stored (false: an earlier version became current again)"
    )
    counts: dict[str, int] = Field(description="rows per GTFS table")
    interpolated_rows: int = Field(description="stop times whose blank times were interpolated")
    service_start: date | None = Field(default=None, description="the first day a trip runs")
    service_end: date | None = Field(default=None, description="the last day a trip runs")
    warnings: list[dict[str, Any]] = Field(
        description="what is odd but not wrong; first, a service that has ended or that runs "
        "no trip in the next 7 days",
    )
    warning_total: int = Field(description="how many warnings, listed or not")


class FeedVersions(BaseModel):
    """An operator's feed versions, newest first."""

    items: list[FeedSummary] = Field(description="the versions, newest first")


def _operator_out(op: operator_store.Operator) -> OperatorOut:
    return OperatorOut.model_validate(op, from_attributes=True)


@api.route(
    "POST",
    "/v1/operators",
    summary="Onboard an operator",
    tag="operators",
    roles=("admin",),
    body=OperatorCreate,
    response=OperatorOut,
    status=201,
    errors=("operator_exists",),
    location="/v1/operators/{id}",
)
async def create_operator(request: web.Request, body: OperatorCreate) -> OperatorOut:
    """Create an operator (409 if the id is taken)."""
    fields = body.model_dump(exclude={"id", "name", "tomp_token"})
    token = body.tomp_token.get_secret_value() if body.tomp_token else None
    created = await operator_store.create_operator(
        request.app[db_key],
        body.id,
        body.name,
        tomp_token=token,
        secret=request.app[settings_key].signing_secret,
        **fields,
    )
    if created is None:
        raise conflict("operator_exists", f"operator {body.id!r} already exists")
    secret = request.app[settings_key].signing_secret
    await ensure_signing_key(request.app[db_key], created.id, secret)
    return _operator_out(created)


@api.route(
    "GET",
    "/v1/operators",
    summary="List operators",
    tag="operators",
    query=PageQuery,
    response=OperatorList,
    errors=("invalid_cursor",),
)
async def list_operators(request: web.Request, query: PageQuery) -> OperatorList:
    """List operators by id, a page at a time."""
    after = decode_cursor(query.cursor, str)
    found = await operator_store.list_operators(
        request.app[db_key], str(after) if after else None, query.limit + 1
    )
    page = found[: query.limit]
    more = len(found) > query.limit
    return OperatorList(
        items=[_operator_out(o) for o in page],
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )


@api.route(
    "GET",
    "/v1/operators/{id}",
    summary="An operator",
    tag="operators",
    response=OperatorOut,
    errors=("not_found",),
)
async def get_operator(request: web.Request) -> OperatorOut:
    """Return one operator."""
    operator_id = request.match_info["id"]
    found = await operator_store.find_operator(request.app[db_key], operator_id)
    if found is None:
        raise not_found("operator", operator_id)
    return _operator_out(found)


@api.route(
    "PUT",
    "/v1/operators/{id}/feed",
    summary="Publish the operator's GTFS feed (a zip body)",
    tag="operators",
    roles=("operator", "admin"),
    query=FeedQuery,
    response=FeedPublished,
    upload="application/zip",
    errors=("not_found", "empty_body", "upload_not_a_file", "feed_invalid", "invalid_fares"),
    also=((200, "this feed was already published: nothing changed"),),
    location="/v1/operators/{id}/feed",
    status=201,
)
async def put_feed(request: web.Request, query: FeedQuery) -> web.Response:
    """Validate and store an uploaded GTFS zip; 422 lists every error of a bad feed."""
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    pool, settings = request.app[db_key], request.app[settings_key]
    operator = await operator_store.find_operator(pool, operator_id)
    if operator is None:
        raise not_found("operator", operator_id)
    path = await asyncio.to_thread(new_upload_path, settings.data_dir)
    try:
        await receive_upload(request, path, settings.max_upload_bytes)
        published = await publish_in_child(
            request.app[database_url_key], path, operator_id, query.agency_id
        )
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    stored, dates = published.stored, published.service_dates
    if stored.changed:
        request.app[timetable_key].request_rebuild()
        request.app[cache_key].changed("feed_versions")  # this process's at once, others by NOTIFY
    dated = _dated_warnings(list(dates), operator.timezone)
    body = FeedPublished(
        operator_id=operator_id,
        version_id=stored.version_id,
        changed=stored.changed,
        created=stored.created,
        counts=published.counts,
        interpolated_rows=published.interpolated_rows,
        service_start=dates[0] if dates else None,
        service_end=dates[-1] if dates else None,
        warnings=dated + [w.as_dict() for w in published.warnings],
        warning_total=len(dated) + published.warning_total,
    )
    return json_response(body, status=201 if stored.created else 200)


@api.route(
    "GET",
    "/v1/operators/{id}/feed",
    summary="The operator's feed versions and their warnings",
    tag="operators",
    response=FeedVersions,
    errors=("not_found",),
)
async def get_feed_versions(request: web.Request) -> FeedVersions:
    """List an operator's feed versions, newest first."""
    operator_id = request.match_info["id"]
    pool = request.app[db_key]
    operator = await operator_store.find_operator(pool, operator_id)
    if operator is None:
        raise not_found("operator", operator_id)
    versions = await list_feed_versions(pool, operator_id)
    return FeedVersions(items=[_feed_summary(v, operator.timezone) for v in versions])


def _dated_warnings(dates: list[date], timezone: str) -> list[dict[str, Any]]:
    """Return a service period's warnings as of today in the operator's time zone."""
    today = datetime.now(ZoneInfo(timezone)).date()
    return [w.as_dict() for w in service_warnings(dates, today)]


def _feed_summary(v: FeedVersion, timezone: str) -> FeedSummary:
    dated = _dated_warnings(v.service_dates, timezone) if v.status == "ready" else []
    return FeedSummary(
        id=v.id,
        sha256=v.sha256,
        created_at=v.created_at,
        activated_at=v.activated_at,
        status=v.status,
        is_current=v.is_current,
        counts=v.counts,
        service_start=v.service_dates[0] if v.service_dates else None,
        service_end=v.service_dates[-1] if v.service_dates else None,
        warnings=dated + v.warnings.get("items", []),
        warning_total=len(dated) + v.warnings.get("total", 0),
    )
