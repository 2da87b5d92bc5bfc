"""Revoking tickets and serving each operator's signed status list (the rows behind it).

Indexes come from a per-operator counter that only grows, taken in the one
statement that commits a confirm's intent (`sales.bookings`; or in the
transaction that issues the tickets, when that is where they are issued): its
row lock, held for that statement only, makes two sales take turns rather than
share an index, and a unique constraint holds it besides. An index given to a
ticket that is then not issued (the confirm failed) stays unused. The list is
built from the tickets themselves, so a cancel that sets a ticket CANCELLED has
set its bit in the same transaction.

Serving a list writes nothing (its transaction is READ ONLY): the token is a
function of what it is built from. Its `iat` is the start of the current hour,
or the last revocation if later, and Ed25519 signatures are deterministic, so
every gateway process signs the same bytes for the same bits, key and hour, and
gives them the same ETag; a process signs each such list once (`_sign`'s cache).
A revocation changes the bits, hence the token, at once.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from sales.errors import NotFound
from sales.signing import get_active_key
from sales.statuslist import pack_bits, sign_status_list
from sales.tokens import SigningKey

#: Lists grow in steps of this many tickets, with a step to spare, so a device's list
#: still covers tickets sold after it was fetched (they show as not revoked).
CHUNK_BITS = 16_384
#: A list is valid this long after its `iat`: an inspector's device can work a whole day.
#: A new `iat` comes every hour (`issued_at`), so a served list is valid 23 hours at least.
VALID_S = 24 * 3600
#: How long a client may use a fetched list before asking again (`ttl` and max-age).
TTL_S = 300


@dataclass(frozen=True, slots=True)
class SignedStatusList:
    """A status list token and its ETag."""

    token: str
    etag: str


def status_uri(base_url: str, operator_id: str) -> str:
    """Return the URI of an operator's status list under the gateway's public URL."""
    return f"{base_url.rstrip('/')}/v1/status-lists/{operator_id}"


async def allocate(conn: asyncpg.Connection | asyncpg.Pool, operator_id: str, count: int) -> int:
    """Take `count` fresh indexes of the operator's list (caller's transaction); return the 1st."""
    first: int = await conn.fetchval(
        """INSERT INTO status_lists (operator_id, next_idx) VALUES ($1, $2)
           ON CONFLICT (operator_id) DO UPDATE SET next_idx = status_lists.next_idx + $2
           RETURNING next_idx - $2""",
        operator_id,
        count,
    )
    return first


async def revoke_tickets(
    conn: asyncpg.Connection, booking_id: uuid.UUID, leg_id: uuid.UUID | None = None
) -> int:
    """Revoke a booking's tickets (or one leg's), in the caller's transaction; return how many."""
    revoked: str = await conn.execute(
        """UPDATE tickets SET status = 'CANCELLED', revoked_at = now()
           WHERE booking_id = $1 AND ($2::uuid IS NULL OR booking_leg_id = $2)
             AND status <> 'CANCELLED'""",
        booking_id,
        leg_id,
    )
    return int(revoked.rsplit(" ", 1)[-1])


async def _bits(conn: asyncpg.Connection, operator_id: str) -> tuple[bytes, datetime | None]:
    """Return the operator's bitstring and when its last ticket was revoked."""
    next_idx = await conn.fetchval(
        "SELECT next_idx FROM status_lists WHERE operator_id = $1", operator_id
    )
    size_bits = ((next_idx or 0) // CHUNK_BITS + 2) * CHUNK_BITS
    rows = await conn.fetch(
        """SELECT status_idx, revoked_at FROM tickets
           WHERE operator_id = $1 AND status = 'CANCELLED' AND status_idx IS NOT NULL""",
        operator_id,
    )
    last = max((r["revoked_at"] for r in rows if r["revoked_at"] is not None), default=None)
    return pack_bits((r["status_idx"] for r in rows), size_bits), last


def issued_at(now: datetime, last_revoked: datetime | None) -> datetime:
    """Return the list's `iat`: the hour it is served in, or its last revocation if later."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    if last_revoked is None or last_revoked <= hour:
        return hour
    return min(last_revoked, now).replace(microsecond=0)


async def signed_status_list(
    pool: asyncpg.Pool, operator_id: str, base_url: str, secret: bytes | None, now: datetime
) -> SignedStatusList:
    """Return the operator's current status list token and its ETag, writing nothing."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        if await conn.fetchval("SELECT 1 FROM operators WHERE id = $1", operator_id) is None:
            raise NotFound.of("operator", operator_id)
        key = await get_active_key(conn, operator_id, secret)
        bits, last_revoked = await _bits(conn, operator_id)
    iat = int(issued_at(now, last_revoked).timestamp())
    return _sign(
        key.kid, key.operator_id, key.private_pem, status_uri(base_url, operator_id), bits, iat
    )


@functools.lru_cache(maxsize=256)
def _sign(
    kid: str, operator_id: str, private_pem: bytes, uri: str, bits: bytes, iat: int
) -> SignedStatusList:
    key = SigningKey(kid, operator_id, private_pem, {})
    token = sign_status_list(key, uri, bits, datetime.fromtimestamp(iat, UTC), VALID_S, TTL_S)
    return SignedStatusList(token, '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"')
