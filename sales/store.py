"""Reading sales back: an offer as it was made, a booking with its legs and tickets, a page."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from sales.errors import NotFound
from sales.schemas import Booking, BookingLeg, Offer, OfferLeg, Refund, Ticket, Traveller

_LEGS = """
SELECT l.booking_id, l.position, l.operator_id, l.status, l.price_minor, l.currency, l.detail,
       t.id AS ticket_id, t.kid, t.token, t.valid_from AS t_from, t.valid_until AS t_until,
       t.status AS ticket_status
FROM booking_legs l LEFT JOIN tickets t ON t.booking_leg_id = l.id
WHERE l.booking_id = ANY($1) ORDER BY l.booking_id, l.position
"""

#: A booking's offers, read with its row.
_OFFER_IDS = "ARRAY(SELECT offer_id FROM booking_offers o WHERE o.booking_id = b.id) AS offer_ids"

#: One booking with its offers, a row per leg (and its ticket): read back in one round trip.
_ONE = f"""
SELECT b.*, {_OFFER_IDS}, l.position, l.operator_id, l.status AS leg_status,
       l.price_minor, l.currency AS leg_currency, l.detail,
       t.id AS ticket_id, t.kid, t.token, t.valid_from AS t_from, t.valid_until AS t_until,
       t.status AS ticket_status
FROM bookings b
LEFT JOIN booking_legs l ON l.booking_id = b.id
LEFT JOIN tickets t ON t.booking_leg_id = l.id
WHERE b.id = $1 AND b.tenant_id = $2 ORDER BY l.position
"""


def _ticket(row: asyncpg.Record) -> Ticket | None:
    if row["ticket_id"] is None:
        return None
    base = f"/v1/tickets/{row['ticket_id']}"
    return Ticket(
        id=row["ticket_id"],
        operator_id=row["operator_id"],
        kid=row["kid"],
        token=row["token"],
        valid_from=row["t_from"],
        valid_until=row["t_until"],
        status=row["ticket_status"],
        qr_png_url=f"{base}/qr.png",
        qr_svg_url=f"{base}/qr.svg",
    )


def _leg(row: asyncpg.Record) -> BookingLeg:
    detail = row["detail"]
    keys = row.keys()
    return BookingLeg(
        position=row["position"],
        operator_id=row["operator_id"],
        status=row["leg_status" if "leg_status" in keys else "status"],
        price_minor=row["price_minor"],
        currency=row["leg_currency" if "leg_currency" in keys else "currency"],
        product_id=detail.get("product_id"),
        valid_from=detail["valid_from"],
        valid_until=detail["valid_until"],
        ticket=_ticket(row),
    )


def _refund(row: asyncpg.Record) -> Refund | None:
    if row["refund_minor"] is None or row["refund_reason"] is None:
        return None
    return Refund(
        amount_minor=row["refund_minor"], currency=row["currency"], reason=row["refund_reason"]
    )


async def _assemble(
    conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]
) -> list[Booking]:
    ids = [r["id"] for r in rows]
    legs: dict[uuid.UUID, list[BookingLeg]] = {i: [] for i in ids}
    for leg in await conn.fetch(_LEGS, ids):
        legs[leg["booking_id"]].append(_leg(leg))
    return _bookings(rows, legs)


def _bookings(rows: list[asyncpg.Record], legs: dict[uuid.UUID, list[BookingLeg]]) -> list[Booking]:
    return [
        Booking(
            id=r["id"],
            status=r["status"],
            offer_ids=r["offer_ids"],
            legs=legs[r["id"]],
            travellers=[Traveller.model_validate(t) for t in r["travellers"]],
            traveller_ref=r["traveller_ref"],
            total_minor=r["total_minor"],
            refund_minor=r["refund_minor"],
            refund=_refund(r),
            currency=r["currency"],
            expires_at=r["expires_at"],
            reason=r["reason"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


async def get_offer(pool: asyncpg.Pool, tenant_id: str, offer_id: uuid.UUID) -> Offer:
    """Return a tenant's offer as it was made; another tenant's is reported as not existing."""
    row = await pool.fetchrow(
        "SELECT * FROM offers WHERE id = $1 AND tenant_id = $2", offer_id, tenant_id
    )
    if row is None:
        raise NotFound.of("offer", str(offer_id))
    return Offer(
        id=row["id"],
        kind=row["kind"],
        legs=[OfferLeg.model_validate(leg) for leg in row["legs"]],
        travellers=[Traveller.model_validate(t) for t in row["travellers"]],
        total_minor=row["total_minor"],
        currency=row["currency"],
        valid_until=row["valid_until"],
    )


async def get_booking(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, booking_id: uuid.UUID
) -> Booking:
    """Return a tenant's booking; another tenant's booking is reported as not existing."""
    rows = await conn.fetch(_ONE, booking_id, tenant_id)
    if not rows:
        raise NotFound.of("booking", str(booking_id))
    legs = [_leg(r) for r in rows if r["position"] is not None]
    return _bookings(rows[:1], {booking_id: legs})[0]


#: The position of a booking in a tenant's list: (created_at, id), newest first.
BookingKey = tuple[datetime, uuid.UUID]


async def list_bookings(
    pool: asyncpg.Pool, tenant_id: str, status: str | None, after: BookingKey | None, limit: int
) -> tuple[list[Booking], BookingKey | None]:
    """Return a page of a tenant's bookings, newest first, and the key of the next page."""
    rows = await pool.fetch(
        f"""SELECT b.*, {_OFFER_IDS} FROM bookings b
           WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        tenant_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    following = (page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return await _assemble(pool, page), following


async def find_ticket_token(pool: asyncpg.Pool, tenant_id: str, ticket_id: uuid.UUID) -> str | None:
    """Return the signed token of one of a tenant's tickets, or None."""
    token = await pool.fetchval(
        "SELECT t.token FROM tickets t JOIN bookings b ON b.id = t.booking_id "
        "WHERE t.id = $1 AND b.tenant_id = $2",
        ticket_id,
        tenant_id,
    )
    return None if token is None else str(token)
