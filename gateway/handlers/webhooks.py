"""Webhook endpoints and the event feed: each party registers its own and sees its own."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api import api, principal
from gateway.appkeys import db_key, settings_key
from gateway.credentials import Principal, Role
from gateway.problems import Problem
from gateway.urlguard import check_public_url
from sales.schemas import Strict
from webhooks import endpoints
from webhooks.feed import list_events

OWNERS: tuple[Role, ...] = ("maas", "operator", "planner")
EVERYONE: tuple[Role, ...] = (*OWNERS, "admin")
_EVENT_TYPE = r"^[a-z_]+\.([a-z_]+|\*)$"


class WebhookCreate(Strict):
    """Where to deliver, and which events (none listed: every event the caller may see)."""

    url: str = Field(max_length=2000, pattern=r"^https?://", description="the receiver's URL")
    events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="event types (`booking.confirmed`) or families (`booking.*`)",
        json_schema_extra={"items": {"pattern": _EVENT_TYPE}},
    )


class Webhook(BaseModel):
    """A registered endpoint (its secret is shown only when made or rotated)."""

    id: uuid.UUID = Field(description="the endpoint's id")
    url: str = Field(description="where events are delivered")
    events: list[str] = Field(description="the event types delivered (empty: all)")
    status: str = Field(description="`active`, or `failing` after about three days of failures")
    created_at: datetime = Field(description="when it was registered")
    failing_since: datetime | None = Field(default=None, description="when it was marked failing")
    previous_secret_until: datetime | None = Field(
        default=None, description="until when the secret before the last rotation also signs"
    )


class WebhookWithSecret(Webhook):
    """An endpoint and its signing secret, shown once."""

    secret: str = Field(description="the Standard Webhooks secret (`whsec_...`); keep it")


class WebhookList(BaseModel):
    """The caller's endpoints."""

    items: list[Webhook] = Field(description="oldest first")


class EventsQuery(Strict):
    """Where to start reading, and how many."""

    after: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="the last event id already read"
    )
    limit: int = Field(default=100, ge=1, le=1000, description="events per page")


class EventItem(BaseModel):
    """One state change of one object."""

    id: int = Field(description="the event's id (the `webhook-id` is `evt_<id>`)")
    type: str = Field(description="e.g. `booking.confirmed`, `ticket.issued`, `feed.current`")
    object_type: str = Field(description="`booking`, `ticket`, `feed`, `release`, ...")
    object_id: str = Field(description="the object's id")
    seq: int = Field(description="the event's position among its object's events, from 1")
    created_at: datetime = Field(description="when the change committed")
    data: dict[str, Any] = Field(description="what changed")


class EventPage(BaseModel):
    """A page of events in delivery order."""

    items: list[EventItem] = Field(description="the events after `after`")
    next_after: int | None = Field(default=None, description="pass back as `after`")


def owner_of(caller: Principal) -> str | None:
    """Return whose events a caller sees: its tenant, operator, the planners; None: all."""
    if caller.role == "maas" and caller.tenant_id:
        return f"tenant:{caller.tenant_id}"
    if caller.role == "operator" and caller.operator_id:
        return f"operator:{caller.operator_id}"
    if caller.role == "planner":
        return "planner"
    if caller.role == "admin":
        return None
    raise Problem(403, "forbidden", "Forbidden", "this key is bound to no tenant or operator")


def _webhook(found: endpoints.Endpoint) -> Webhook:
    return Webhook(
        id=found.id,
        url=found.url,
        events=found.events,
        status=found.status,
        created_at=found.created_at,
        failing_since=found.failing_since,
        previous_secret_until=found.previous_secret_until,
    )


def _endpoint_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["webhook_id"])
    except ValueError:
        raise Problem(
            404, "not_found", "Not found", f"webhook {request.match_info['webhook_id']!r}"
        ) from None


@api.route(
    "POST",
    "/v1/webhooks",
    summary="Register a webhook endpoint; its signing secret is shown once",
    tag="webhooks",
    roles=OWNERS,
    body=WebhookCreate,
    response=WebhookWithSecret,
    status=201,
    errors=("url_not_allowed",),
    location="/v1/webhooks/{id}",
)
async def create_webhook(request: web.Request, body: WebhookCreate) -> WebhookWithSecret:
    """Deliver the caller's events to a public URL, signed the Standard Webhooks way."""
    owner = owner_of(principal(request))
    settings = request.app[settings_key]
    await check_public_url(body.url, "url", settings.allow_private_urls)
    for i, kind in enumerate(body.events):
        if not _valid_type(kind):
            raise Problem(
                422,
                "validation_failed",
                "Validation failed",
                f"body.events[{i}]: {kind!r} is not an event type or family (`booking.*`)",
            )
    found, secret = await endpoints.create_endpoint(
        request.app[db_key], owner or "", body.url, body.events, settings.signing_secret
    )
    return WebhookWithSecret(**_webhook(found).model_dump(), secret=secret)


def _valid_type(kind: str) -> bool:
    return re.fullmatch(_EVENT_TYPE, kind) is not None


@api.route(
    "GET",
    "/v1/webhooks",
    summary="The caller's webhook endpoints",
    tag="webhooks",
    roles=EVERYONE,
    response=WebhookList,
)
async def list_webhooks(request: web.Request) -> WebhookList:
    """List the caller's endpoints (an admin: everyone's)."""
    found = await endpoints.list_endpoints(request.app[db_key], owner_of(principal(request)))
    return WebhookList(items=[_webhook(e) for e in found])


@api.route(
    "GET",
    "/v1/webhooks/{webhook_id}",
    summary="One of the caller's webhook endpoints",
    tag="webhooks",
    roles=EVERYONE,
    response=Webhook,
    errors=("not_found",),
)
async def get_webhook(request: web.Request) -> Webhook:
    """Show an endpoint: whether it is active or failing."""
    owner = owner_of(principal(request))
    found = await endpoints.get_endpoint(request.app[db_key], owner, _endpoint_id(request))
    return _webhook(found)


@api.route(
    "DELETE",
    "/v1/webhooks/{webhook_id}",
    summary="Remove a webhook endpoint",
    tag="webhooks",
    roles=EVERYONE,
    status=204,
    errors=("not_found",),
)
async def delete_webhook(request: web.Request) -> web.Response:
    """Stop delivering to the endpoint; what it has not received yet is dropped."""
    owner = owner_of(principal(request))
    await endpoints.delete_endpoint(request.app[db_key], owner, _endpoint_id(request))
    return web.Response(status=204)


@api.route(
    "POST",
    "/v1/webhooks/{webhook_id}/rotate",
    summary="Rotate an endpoint's signing secret; the old one also signs for a grace period",
    tag="webhooks",
    roles=OWNERS,
    response=WebhookWithSecret,
    errors=("not_found",),
)
async def rotate_webhook_secret(request: web.Request) -> WebhookWithSecret:
    """Make a new secret; both secrets sign (two signatures) until `previous_secret_until`."""
    settings = request.app[settings_key]
    found, secret = await endpoints.rotate_secret(
        request.app[db_key],
        owner_of(principal(request)),
        _endpoint_id(request),
        timedelta(hours=settings.webhook_rotation_grace_h),
        settings.signing_secret,
    )
    return WebhookWithSecret(**_webhook(found).model_dump(), secret=secret)


@api.route(
    "POST",
    "/v1/webhooks/{webhook_id}/reactivate",
    summary="Deliver again to a failing endpoint",
    tag="webhooks",
    roles=OWNERS,
    response=Webhook,
    errors=("not_found",),
)
async def reactivate_webhook(request: web.Request) -> Webhook:
    """Mark the endpoint active: what it missed is delivered again, in order."""
    owner = owner_of(principal(request))
    found = await endpoints.reactivate(request.app[db_key], owner, _endpoint_id(request))
    return _webhook(found)


@api.route(
    "GET",
    "/v1/events",
    summary="The caller's events after a given one: catch up at any time",
    tag="webhooks",
    roles=EVERYONE,
    query=EventsQuery,
    response=EventPage,
    errors=("invalid_cursor",),
)
async def get_events(request: web.Request, query: EventsQuery) -> EventPage:
    """List events in the order webhooks deliver them; an object's in its `seq` order."""
    owner = owner_of(principal(request))
    found = await list_events(request.app[db_key], owner, query.after, query.limit)
    items = [
        EventItem(
            id=e.id,
            type=e.type,
            object_type=e.object_type,
            object_id=e.object_id,
            seq=e.seq,
            created_at=e.created_at,
            data=e.data,
        )
        for e in found
    ]
    return EventPage(items=items, next_after=items[-1].id if items else query.after)
