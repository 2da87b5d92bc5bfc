"""Revoking tickets and serving each operator's signed status list (the rows behind it).

Indexes come from a per-operator counter that only grows, taken in the
transaction that issues the tickets: its row lock makes two sales wait for
each other rather than share an index, and a unique constraint holds it
besides. The list is built from the tickets themselves, so a cancel that sets
a ticket CANCELLED has set its bit in the same transaction. A signed list is
kept and served again until the bits or the signing key change, or it is due
to be signed again; its ETag is the same in every gateway process.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sales.errors import NotFound
from sales.signing import get_active_key
from sales.statuslist import pack_bits, sign_status_list

#: Lists grow in steps of this many tickets, with a step to spare, so a device's list
#: still covers tickets sold after it was fetched (they show as not revoked).
CHUNK_BITS = 16_384
#: A list is valid this long after it is signed: an inspector's device can work a whole day.
VALID_S = 24 * 3600
#: ... and signed again this long after, so a served list is always valid for 23 hours.
RESIGN_AFTER = timedelta(hours=1)
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


async def allocate(conn: asyncpg.Connection, operator_id: str, count: int) -> int:
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


async def _bits(conn: asyncpg.Connection, operator_id: str) -> bytes:
    next_idx = await conn.fetchval(
        "SELECT next_idx FROM status_lists WHERE operator_id = $1", operator_id
    )
    size_bits = ((next_idx or 0) // CHUNK_BITS + 2) * CHUNK_BITS
    rows = await conn.fetch(
        """SELECT status_idx FROM tickets
           WHERE operator_id = $1 AND status = 'CANCELLED' AND status_idx IS NOT NULL""",
        operator_id,
    )
    return pack_bits((r["status_idx"] for r in rows), size_bits)


async def signed_status_list(
    pool: asyncpg.Pool, operator_id: str, base_url: str, secret: bytes | None, now: datetime
) -> SignedStatusList:
    """Return the operator's current status list token, signing it again only when due."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM operators WHERE id = $1", operator_id) is None:
            raise NotFound.of("operator", operator_id)
        key = await get_active_key(conn, operator_id, secret)
        bits = await _bits(conn, operator_id)
        uri = status_uri(base_url, operator_id)
        built_from = hashlib.sha256(bits + f"\n{key.kid}\n{uri}".encode()).hexdigest()
        kept = await conn.fetchrow(
            "SELECT token, token_etag, signed_at FROM status_lists WHERE operator_id = $1",
            operator_id,
        )
        fresh = kept is not None and kept["token"] and kept["signed_at"] > now - RESIGN_AFTER
        if fresh and kept["token_etag"] == _etag(built_from, kept["signed_at"]):
            return SignedStatusList(kept["token"], kept["token_etag"])
        token = sign_status_list(key, uri, bits, now, VALID_S, TTL_S)
        etag = _etag(built_from, now)
        await conn.execute(
            """INSERT INTO status_lists (operator_id, token, token_etag, signed_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (operator_id) DO UPDATE
               SET token = $2, token_etag = $3, signed_at = $4""",
            operator_id,
            token,
            etag,
            now,
        )
        return SignedStatusList(token, etag)


def _etag(built_from: str, signed_at: datetime) -> str:
    stamp = signed_at.isoformat()
    return '"' + hashlib.sha256(f"{built_from}\n{stamp}".encode()).hexdigest()[:32] + '"'
