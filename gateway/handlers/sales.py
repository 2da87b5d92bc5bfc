"""The ticket-sales API: catalogue, offers, bookings, tickets and the operators' public keys."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from gateway.api import api, json_response, principal, require_own_operator
from gateway.appkeys import (
    cache_key,
    db_key,
    fares_key,
    realtime_key,
    sales_key,
    timetable_key,
)
from gateway.pagination import decode_keys, decode_time_id, encode_keys, encode_time_id
from gateway.problems import Problem, not_found
from gateway.uploads import read_upload
from operators.fares.catalogue import CatalogueProduct, list_sold_alone
from sales import capacity, idempotency
from sales.booking_insert import offers_read
from sales.bookings import Step, cancel_booking, confirm_booking, create_booking
from sales.conditions import OperatorTerms, operator_terms
from sales.fares import store_fares
from sales.offers import create_offer
from sales.rides import Schedule
from sales.schemas import (
    Booking,
    BookingCreate,
    BookingPage,
    BookingQuery,
    Day,
    Offer,
    OfferCreate,
    Product,
    ProductList,
    ProductPrice,
    ProductQuery,
    Strict,
)
from sales.store import find_ticket_token, get_booking, get_offer, list_bookings
from sales.tokens import qr_png, qr_svg

MAX_FARES_BYTES = 10 * 1024 * 1024


def _tenant(request: web.Request) -> str:
    tenant = principal(request).tenant_id
    if tenant is None:  # the maas role always has a tenant (a database CHECK)
        raise Problem(403, "forbidden", "Forbidden", "this key has no tenant")
    return tenant


@api.route(
    "GET",
    "/v1/products",
    summary="The operators' products and prices",
    tag="sales",
    query=ProductQuery,
    response=ProductList,
    errors=("invalid_cursor",),
)
async def list_products(request: web.Request, query: ProductQuery) -> ProductList:
    """List the products sold on their own, with prices, media, validity, conditions, by page.

    A product only a transfer rule uses, or one priced zero or less, is not listed.
    """
    after = decode_keys(query.cursor, 2)
    pool = request.app[db_key]
    fares = await request.app[fares_key].current(pool)
    wanted = sorted(
        op
        for op in fares
        if (query.operator is None or op == query.operator) and (after is None or op >= after[0])
    )
    terms = await operator_terms(pool, set(wanted), request.app[cache_key])
    now = datetime.now(UTC)
    items: list[Product] = []
    for operator_id in wanted:
        own = terms[operator_id]
        sold = list_sold_alone(fares[operator_id], own.marked_sold_alone())
        for product in sorted(sold, key=lambda p: p.fare_product_id):
            if after is None or (operator_id, product.fare_product_id) > after:
                items.append(_product(operator_id, product, own, now))
        if len(items) > query.limit:
            break
    page = items[: query.limit]
    more = len(items) > query.limit
    return ProductList(
        items=page,
        next_cursor=encode_keys(page[-1].operator_id, page[-1].product_id) if more else None,
    )


def _product(
    operator_id: str, product: CatalogueProduct, terms: OperatorTerms, now: datetime
) -> Product:
    own = terms.for_product(product.fare_product_id)
    return Product(
        operator_id=operator_id,
        product_id=product.fare_product_id,
        name=product.fare_product_name,
        prices=[ProductPrice.model_validate(p, from_attributes=True) for p in product.prices],
        has_origin_destination=product.has_origin_destination,
        sold_alone=True,
        validity_min=int(own.validity.total_seconds() // 60),
        conditions=own.conditions(now),
        areas=[list(pair) for pair in product.area_pairs],
        networks=list(product.network_ids),
    )


@api.route(
    "POST",
    "/v1/offers",
    summary="Price a product or an itinerary",
    tag="sales",
    roles=("maas",),
    body=OfferCreate,
    response=Offer,
    status=201,
    errors=(
        "forbidden",
        "not_found",
        "no_fares",
        "no_fare",
        "itinerary_not_a_sequence",
        "trip_not_running",
        "trip_cancelled",
        "stops_not_on_trip",
        "not_sold_alone",
        "departed",
        "valid_from_past",
        "mixed_currencies",
        "connection_missed",
    ),
    location="/v1/offers/{id}",
)
async def post_offer(request: web.Request, body: OfferCreate) -> Offer:
    """Price with the operators' fares and the timetable; store the offer for 15 minutes."""
    pool = request.app[db_key]
    fares = await request.app[fares_key].current(pool)
    # A product needs no timetable: it is sold even while the first one is being built.
    schedule = current_schedule(request) if body.itinerary is not None else None
    return await create_offer(pool, _tenant(request), body, fares, schedule, request.app[cache_key])


def current_schedule(request: web.Request) -> Schedule:
    """Return the timetable this request reads, with the realtime overlay on it."""
    timetable = request.app[timetable_key].get()
    overlay = request.app[realtime_key].state.overlay(timetable.generation)
    return Schedule(timetable.snapshot, overlay or {})


@api.route(
    "GET",
    "/v1/offers/{id}",
    summary="An offer as it was made",
    tag="sales",
    roles=("maas",),
    response=Offer,
    errors=("forbidden", "not_found"),
)
async def get_one_offer(request: web.Request) -> Offer:
    """Return one of the tenant's offers, also after it has expired."""
    try:
        offer_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise not_found("offer", request.match_info["id"]) from None
    return await get_offer(request.app[db_key], _tenant(request), offer_id)


def _idempotency_key(request: web.Request) -> str:
    key = _optional_idempotency_key(request)
    if key is None:
        raise Problem(
            400,
            "idempotency_key_required",
            "Idempotency-Key required",
            "send an Idempotency-Key header (a fresh UUID per purchase)",
        )
    return key


def _optional_idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > 255:
        raise Problem(
            400,
            "idempotency_key_invalid",
            "Idempotency-Key invalid",
            "the Idempotency-Key may be at most 255 characters",
        )
    return key


@api.route(
    "POST",
    "/v1/bookings",
    summary="Book offers (PENDING until confirmed)",
    tag="sales",
    roles=("maas",),
    body=BookingCreate,
    response=Booking,
    status=201,
    idempotent_key=True,
    errors=(
        "forbidden",
        "not_found",
        "offer_expired",
        "offer_already_booked",
        "travellers_mismatch",
        "mixed_currencies",
        "sold_out",
        "operator_unavailable",
    ),
    location="/v1/bookings/{id}",
)
async def post_booking(request: web.Request, body: BookingCreate) -> web.Response:
    """Reserve every leg with its operator; replay the first answer for a repeated key."""
    tenant, key = _tenant(request), _idempotency_key(request)
    sales = request.app[sales_key]
    fingerprint = idempotency.request_hash("POST", "/v1/bookings", body.model_dump(mode="json"))

    async def book(offers: list[asyncpg.Record]) -> object:
        booking = await create_booking(sales, tenant, body, key, offers)
        return booking.model_dump(mode="json", exclude_none=True)

    # The offers are read in the claim's statement: one round trip fewer.
    outcome = await idempotency.run_once_reading(
        sales.pool, tenant, key, fingerprint, offers_read(body), book, 2 * sales.lease
    )
    return json_response(outcome.body, status=201, headers=_replayed(outcome))


def _replayed(outcome: idempotency.Outcome) -> dict[str, str] | None:
    return {"Idempotent-Replayed": "true"} if outcome.replayed else None


async def _booking_step(
    request: web.Request, step: str, run: Callable[[], Awaitable[Step]]
) -> web.Response:
    """Run a confirm or cancel, once per Idempotency-Key when the request carries one.

    A step an earlier call already did (its answer lost) answers as a replay.
    """
    key = _optional_idempotency_key(request)
    if key is None:
        done = await run()
        body = done.booking.model_dump(mode="json", exclude_none=True)
        return json_response(body, headers=_replayed(idempotency.Outcome(body, done.replayed)))
    sales, tenant = request.app[sales_key], _tenant(request)
    fingerprint = idempotency.request_hash("POST", f"{request.path}", {"step": step})
    redone = False

    async def act() -> object:
        nonlocal redone
        done = await run()
        redone = done.replayed
        return done.booking.model_dump(mode="json", exclude_none=True)

    outcome = await idempotency.run_once(sales.pool, tenant, key, fingerprint, act, 2 * sales.lease)
    return json_response(
        outcome.body,
        headers=_replayed(idempotency.Outcome(outcome.body, outcome.replayed or redone)),
    )


def _booking_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise not_found("booking", request.match_info["id"]) from None


@api.route(
    "GET",
    "/v1/bookings",
    summary="The tenant's bookings",
    tag="sales",
    roles=("maas",),
    query=BookingQuery,
    response=BookingPage,
    errors=("forbidden", "invalid_cursor"),
)
async def get_bookings(request: web.Request, query: BookingQuery) -> BookingPage:
    """List the caller's bookings, newest first, by cursor."""
    after = decode_time_id(query.cursor)
    items, following = await list_bookings(
        request.app[db_key], _tenant(request), query.status, after, query.limit
    )
    next_cursor = encode_time_id(*following) if following else None
    return BookingPage(items=items, next_cursor=next_cursor)


@api.route(
    "GET",
    "/v1/bookings/{id}",
    summary="One booking",
    tag="sales",
    roles=("maas",),
    response=Booking,
    errors=("forbidden", "not_found"),
)
async def get_one_booking(request: web.Request) -> Booking:
    """Return one of the caller's bookings."""
    return await get_booking(request.app[db_key], _tenant(request), _booking_id(request))


@api.route(
    "POST",
    "/v1/bookings/{id}/confirm",
    summary="Confirm with every operator; tickets",
    tag="sales",
    roles=("maas",),
    response=Booking,
    errors=(
        "forbidden",
        "not_found",
        "booking_not_pending",
        "booking_expired",
        "booking_busy",
        "no_signing_key",
    ),
    idempotent_key="optional",
)
async def post_confirm(request: web.Request) -> web.Response:
    """Commit all legs (CONFIRMED with tickets) or none (REJECTED, compensated)."""
    sales, tenant, booking_id = request.app[sales_key], _tenant(request), _booking_id(request)
    return await _booking_step(
        request, "confirm", lambda: confirm_booking(sales, tenant, booking_id)
    )


@api.route(
    "POST",
    "/v1/bookings/{id}/cancel",
    summary="Cancel and refund per conditions",
    tag="sales",
    roles=("maas",),
    response=Booking,
    errors=(
        "forbidden",
        "not_found",
        "booking_not_cancellable",
        "booking_busy",
        "not_cancellable",
        "operator_unavailable",
    ),
    idempotent_key="optional",
)
async def post_cancel(request: web.Request) -> web.Response:
    """Cancel every leg; the refund follows each leg's conditions."""
    sales, tenant, booking_id = request.app[sales_key], _tenant(request), _booking_id(request)
    return await _booking_step(request, "cancel", lambda: cancel_booking(sales, tenant, booking_id))


async def _ticket_token(request: web.Request) -> str:
    try:
        ticket_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise not_found("ticket", request.match_info["id"]) from None
    token = await find_ticket_token(request.app[db_key], _tenant(request), ticket_id)
    if token is None:
        raise not_found("ticket", str(ticket_id))
    return str(token)


@api.route(
    "GET",
    "/v1/tickets/{id}/qr.png",
    summary="A ticket's QR code (PNG)",
    tag="sales",
    roles=("maas",),
    media_types=("image/png",),
    errors=("not_found",),
)
async def ticket_png(request: web.Request) -> web.Response:
    """Return the QR code of a ticket's signed token as PNG."""
    return web.Response(body=qr_png(await _ticket_token(request)), content_type="image/png")


@api.route(
    "GET",
    "/v1/tickets/{id}/qr.svg",
    summary="A ticket's QR code (SVG)",
    tag="sales",
    roles=("maas",),
    media_types=("image/svg+xml",),
    errors=("not_found",),
)
async def ticket_svg(request: web.Request) -> web.Response:
    """Return the QR code of a ticket's signed token as SVG."""
    return web.Response(text=qr_svg(await _ticket_token(request)), content_type="image/svg+xml")


class FaresPublished(BaseModel):
    """The stored fares version."""

    operator_id: str = Field(description="the operator whose fares these are")
    version_id: int = Field(description="the fares version now current")
    sha256: str = Field(description="the SHA-256 of the uploaded zip")
    product_count: int = Field(description="how many fare products it holds")
    changed: bool = Field(description="false when these exact fares were already current")
    warnings: list[dict[str, Any]] = Field(
        default_factory=list,
        description="`{file, row, field, message}` about the fares and the operator's current "
        "timetable they are matched against: references it lacks, routes or service days no "
        "leg rule prices, a configured time zone that is not the feed's (the first 100 of "
        "the fares' own)",
    )
    warning_total: int = Field(default=0, description="how many warnings, listed or not")


@api.route(
    "PUT",
    "/v1/operators/{id}/fares",
    summary="Publish Fares v2 files (a zip body)",
    tag="operators",
    roles=("operator", "admin"),
    response=FaresPublished,
    upload="application/zip",
    errors=("not_found", "empty_body", "upload_not_a_file", "invalid_fares"),
    also=((200, "these fares were already published: nothing changed"),),
    status=201,
)
async def put_fares(request: web.Request) -> web.Response:
    """Validate and store the operator's Fares v2 files; 422 lists every error by file and row."""
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    pool = request.app[db_key]
    terms = await operator_terms(pool, {operator_id})
    archive = await read_upload(request, MAX_FARES_BYTES, "a fares zip")
    version = await store_fares(pool, operator_id, archive, terms[operator_id].timezone.key)
    request.app[cache_key].changed("fare_versions")  # this process's at once, others by NOTIFY
    body = FaresPublished(
        operator_id=operator_id,
        version_id=version.id,
        sha256=version.sha256,
        product_count=version.product_count,
        changed=version.created,
        warnings=[w.as_dict() for w in version.warnings],
        warning_total=version.warning_total,
    )
    return json_response(body, status=201 if version.created else 200)


class CapacitySet(Strict):
    """Limit the seats of a product or of one departure."""

    seats_total: int = Field(ge=0, le=100_000, description="how many seats there are to sell")
    product_id: str | None = Field(
        default=None, description="limit this product (give this, or `trip_id` with `service_date`)"
    )
    trip_id: str | None = Field(
        default=None, description="limit this departure (with `service_date`)"
    )
    service_date: Day | None = Field(default=None, description="the service day of `trip_id`")

    @model_validator(mode="after")
    def _one_target(self) -> CapacitySet:
        if (self.product_id is None) == (self.trip_id is None and self.service_date is None):
            raise ValueError("give product_id, or trip_id with service_date")
        if (self.trip_id is None) != (self.service_date is None):
            raise ValueError("trip_id and service_date go together")
        return self


class CapacityOut(BaseModel):
    """A limited product or departure."""

    id: int = Field(description="the capacity's id")
    seats_total: int = Field(description="how many seats there are to sell")


@api.route(
    "PUT",
    "/v1/operators/{id}/capacities",
    summary="Limit seats of a product or departure",
    tag="operators",
    roles=("operator", "admin"),
    body=CapacitySet,
    response=CapacityOut,
    errors=("not_found", "capacity_below_taken"),
)
async def put_capacity(request: web.Request, body: CapacitySet) -> CapacityOut:
    """Create or resize a seat limit (never below the seats already taken)."""
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    await operator_terms(request.app[db_key], {operator_id})
    try:
        capacity_id = await capacity.set_capacity(
            request.app[db_key],
            operator_id,
            body.seats_total,
            product_id=body.product_id,
            trip_id=body.trip_id,
            service_date=body.service_date,
        )
    except asyncpg.CheckViolationError as exc:
        raise Problem(
            409,
            "capacity_below_taken",
            "Conflict",
            "more seats are already sold than the new total",
        ) from exc
    return CapacityOut(id=capacity_id, seats_total=body.seats_total)
