"""Operators' ticket-signing keys: one active key each, rotation, and the public JWKS.

A retired key stays published until every ticket it signed has expired, so
inspectors' offline key sets keep verifying tickets sold before a rotation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from operators.tickets import SigningKey, new_signing_key


def _key(row: asyncpg.Record) -> SigningKey:
    return SigningKey(row["kid"], row["operator_id"], bytes(row["private_pem"]), row["public_jwk"])


async def get_active_key(conn: asyncpg.Connection, operator_id: str) -> SigningKey:
    """Return the operator's active key, creating the first one if it has none."""
    row = await conn.fetchrow(
        "SELECT * FROM signing_keys WHERE operator_id = $1 AND retired_at IS NULL", operator_id
    )
    if row is not None:
        return _key(row)
    fresh = new_signing_key(operator_id)
    await conn.execute(
        """INSERT INTO signing_keys (kid, operator_id, private_pem, public_jwk)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (operator_id) WHERE retired_at IS NULL DO NOTHING""",
        fresh.kid,
        operator_id,
        fresh.private_pem,
        fresh.public_jwk,
    )
    row = await conn.fetchrow(
        "SELECT * FROM signing_keys WHERE operator_id = $1 AND retired_at IS NULL", operator_id
    )
    return _key(row)


async def rotate_key(conn: asyncpg.Connection, operator_id: str) -> SigningKey:
    """Retire the active key (published until its last ticket expires) and start a new one."""
    async with conn.transaction():
        await conn.execute(
            """UPDATE signing_keys k SET retired_at = now(),
                      publish_until = greatest(now(), coalesce(
                          (SELECT max(valid_until) FROM tickets t WHERE t.kid = k.kid), now()))
               WHERE operator_id = $1 AND retired_at IS NULL""",
            operator_id,
        )
        return await get_active_key(conn, operator_id)


async def published_keys(conn: asyncpg.Connection | asyncpg.Pool, now: datetime) -> dict[str, Any]:
    """Return the JWKS of every key whose tickets may still be valid."""
    rows = await conn.fetch(
        """SELECT public_jwk FROM signing_keys
           WHERE retired_at IS NULL OR publish_until > $1 ORDER BY operator_id, created_at""",
        now,
    )
    return {"keys": [r["public_jwk"] for r in rows]}
