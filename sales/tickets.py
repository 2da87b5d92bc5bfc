"""Issuing and verifying tickets against the stored signing keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Issued:
    """A signed ticket of a leg, not yet stored."""

    id: uuid.UUID
    leg_id: uuid.UUID
    operator_id: str
    kid: str
    token: str
    valid_from: datetime
    valid_until: datetime
    status_idx: int


def sign_leg(
    leg: asyncpg.Record, key: SigningKey, idx: int, public_url: str, now: datetime
) -> Issued:
    """Sign the ticket of a leg with its operator's key and its index in the status list."""
    ticket_id = uuid.uuid4()
    operator_id = leg["operator_id"]
    claims = _claims(leg, ticket_id, StatusRef(idx, status_uri(public_url, operator_id)))
    token = sign_ticket(claims, key, now)
    return Issued(
        ticket_id,
        leg["id"],
        operator_id,
        key.kid,
        token,
        claims.valid_from,
        claims.valid_until,
        idx,
    )


async def sign_all(
    pool: asyncpg.Pool,
    legs: list[asyncpg.Record],
    secret: bytes | None,
    public_url: str,
    cache: Cache | None,
) -> list[Issued]:
    """Sign a ticket for each leg with the status-list index it was given (its `status_idx`).

    A leg given none gets one here (an operator's in one statement). Indexes of tickets
    that are then not stored stay unused: an index only grows.
    """
    now = datetime.now(UTC)
    by_operator: dict[str, list[asyncpg.Record]] = {}
    for leg in legs:
        by_operator.setdefault(leg["operator_id"], []).append(leg)
    issued: list[Issued] = []
    for operator_id, own in by_operator.items():
        key = await get_active_key(pool, operator_id, secret, cache)
        given = [leg.get("status_idx") for leg in own]
        if None in given:
            first = await allocate(pool, operator_id, len(own))
            given = list(range(first, first + len(own)))
        issued += [
            sign_leg(leg, key, idx, public_url, now) for leg, idx in zip(own, given, strict=True)
        ]
    return issued


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
        ticket = sign_leg(
            leg, keys[operator_id], await allocate(conn, operator_id, 1), public_url, now
        )
        await conn.execute(
            """INSERT INTO tickets (id, booking_leg_id, booking_id, operator_id, kid, token,
                                    valid_from, valid_until, status_idx)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            ticket.id,
            ticket.leg_id,
            booking_id,
            ticket.operator_id,
            ticket.kid,
            ticket.token,
            ticket.valid_from,
            ticket.valid_until,
            ticket.status_idx,
        )
    return len(legs)
