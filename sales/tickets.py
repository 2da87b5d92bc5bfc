"""Issuing and verifying tickets against the stored signing keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from sales.cache import Cache
from sales.revocation import allocate, status_uri
from sales.signing import get_active_key
from sales.tokens import SigningKey, StatusRef, TicketClaims, sign_ticket


def _claims(leg: asyncpg.Record, ticket_id: uuid.UUID, status: StatusRef) -> TicketClaims:
    d = leg["detail"]
    categories = [c for c in d.get("rider_categories", []) if c]
    return TicketClaims(
        ticket_id=str(ticket_id),
        operator_id=leg["operator_id"],
        product_id=d.get("product_id"),
        rider_category=",".join(categories) or None,
        valid_from=datetime.fromisoformat(d["valid_from"]),
        valid_until=datetime.fromisoformat(d["valid_until"]),
        booking_ref=str(leg["booking_id"]),
        zones=tuple(d.get("zones", ())),
        route_id=d.get("route_id"),
        status=status,
    )


async def issue(
    conn: asyncpg.Connection,
    booking_id: uuid.UUID,
    secret: bytes | None,
    public_url: str,
    cache: Cache | None = None,
) -> int:
    """Sign a ticket for every confirmed leg of a booking that has none; return how many.

    `secret` opens the operators' signing keys when they are stored encrypted; each
    ticket names its index in its operator's status list under `public_url`.
    """
    legs = await conn.fetch(
        """SELECT l.* FROM booking_legs l LEFT JOIN tickets t ON t.booking_leg_id = l.id
           WHERE l.booking_id = $1 AND l.status = 'CONFIRMED' AND t.id IS NULL
           ORDER BY l.position""",
        booking_id,
    )
    now = datetime.now(UTC)
    keys: dict[str, SigningKey] = {}  # looked up (and opened) once per operator
    for leg in legs:
        operator_id = leg["operator_id"]
        if operator_id not in keys:
            keys[operator_id] = await get_active_key(conn, operator_id, secret, cache)
        key = keys[operator_id]
        ticket_id = uuid.uuid4()
        idx = await allocate(conn, operator_id, 1)
        claims = _claims(leg, ticket_id, StatusRef(idx, status_uri(public_url, operator_id)))
        await conn.execute(
            """INSERT INTO tickets (id, booking_leg_id, booking_id, operator_id, kid, token,
                                    valid_from, valid_until, status_idx)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            ticket_id,
            leg["id"],
            booking_id,
            leg["operator_id"],
            key.kid,
            sign_ticket(claims, key, now),
            claims.valid_from,
            claims.valid_until,
            idx,
        )
    return len(legs)
