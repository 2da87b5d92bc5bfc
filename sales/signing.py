"""Operators' ticket-signing keys: one active key each, rotation, and the public JWKS.

A retired key stays published until every ticket it signed has expired, so
inspectors' offline key sets keep verifying tickets sold before a rotation.
With `MAAS_SIGNING_KEY_SECRET` set, private keys are stored encrypted (PKCS#8),
so a copy of the database alone cannot sign tickets; `maas signing-keys seal`
encrypts keys stored before the secret was set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from sales.tokens import (
    SigningKey,
    SigningKeyLocked,
    is_sealed,
    new_signing_key,
    open_private_pem,
    seal_private_pem,
)

_ACTIVE = "SELECT * FROM signing_keys WHERE operator_id = $1 AND retired_at IS NULL"


def _key(row: asyncpg.Record, secret: bytes | None) -> SigningKey:
    try:
        private_pem = open_private_pem(bytes(row["private_pem"]), secret)
    except SigningKeyLocked as exc:
        raise SigningKeyLocked(f"signing key {row['kid']}: {exc}") from exc
    return SigningKey(row["kid"], row["operator_id"], private_pem, row["public_jwk"])


async def get_active_key(
    conn: asyncpg.Connection, operator_id: str, secret: bytes | None
) -> SigningKey:
    """Return the operator's active key, creating the first one if it has none."""
    row = await conn.fetchrow(_ACTIVE, operator_id)
    if row is not None:
        return _key(row, secret)
    fresh = new_signing_key(operator_id)
    stored = fresh.private_pem if secret is None else seal_private_pem(fresh.private_pem, secret)
    await conn.execute(
        """INSERT INTO signing_keys (kid, operator_id, private_pem, public_jwk)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (operator_id) WHERE retired_at IS NULL DO NOTHING""",
        fresh.kid,
        operator_id,
        stored,
        fresh.public_jwk,
    )
    return _key(await conn.fetchrow(_ACTIVE, operator_id), secret)


async def rotate_key(
    conn: asyncpg.Connection, operator_id: str, secret: bytes | None
) -> SigningKey:
    """Retire the active key (published until its last ticket expires) and start a new one."""
    async with conn.transaction():
        await conn.execute(
            """UPDATE signing_keys k SET retired_at = now(),
                      publish_until = greatest(now(), coalesce(
                          (SELECT max(valid_until) FROM tickets t WHERE t.kid = k.kid), now()))
               WHERE operator_id = $1 AND retired_at IS NULL""",
            operator_id,
        )
        return await get_active_key(conn, operator_id, secret)


async def check_active_keys(conn: asyncpg.Connection | asyncpg.Pool, secret: bytes | None) -> int:
    """Return how many active keys are stored in clear, after opening every one.

    Raises `SigningKeyLocked` naming the first key the secret does not open.
    """
    rows = await conn.fetch("SELECT * FROM signing_keys WHERE retired_at IS NULL")
    for row in rows:
        _key(row, secret)
    return sum(not is_sealed(bytes(row["private_pem"])) for row in rows)


async def seal_keys(conn: asyncpg.Connection, secret: bytes) -> int:
    """Encrypt every private key still stored unencrypted; return how many were."""
    async with conn.transaction():
        rows = await conn.fetch("SELECT kid, private_pem FROM signing_keys FOR UPDATE")
        plain = [r for r in rows if not is_sealed(bytes(r["private_pem"]))]
        for row in plain:
            await conn.execute(
                "UPDATE signing_keys SET private_pem = $2 WHERE kid = $1",
                row["kid"],
                seal_private_pem(bytes(row["private_pem"]), secret),
            )
    return len(plain)


async def published_keys(conn: asyncpg.Connection | asyncpg.Pool, now: datetime) -> dict[str, Any]:
    """Return the JWKS of every key whose tickets may still be valid."""
    rows = await conn.fetch(
        """SELECT public_jwk FROM signing_keys
           WHERE retired_at IS NULL OR publish_until > $1 ORDER BY operator_id, created_at""",
        now,
    )
    return {"keys": [r["public_jwk"] for r in rows]}
