"""Operators' ticket-signing keys: one from onboarding, rotation announced ahead, the JWKS.

A key is published before it signs: an operator gets its first key when it is
onboarded, and `rotate_key` announces the next key a lead time (24 h by
default) before it starts signing, while the current key goes on signing until
then. A key stops being published only when it no longer signs and every
ticket it signed has expired, so an inspector's key set fetched in the morning
verifies every ticket sold that day. With `MAAS_SIGNING_KEY_SECRET` set,
private keys are stored encrypted (PKCS#8), so a copy of the database alone
cannot sign tickets; `maas signing-keys seal` encrypts keys stored before the
secret was set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from sales.cache import Cache
from sales.errors import KeyRotationPending, NoSigningKey
from sales.tokens import (
    SigningKey,
    SigningKeyLocked,
    is_sealed,
    new_signing_key,
    open_private_pem,
    seal_private_pem,
)

#: The key that signs at the transaction's time: started, and not yet retired; and how
#: long it goes on signing (until it retires or the next key starts).
_SIGNING = """SELECT k.*, extract(epoch FROM least(k.retired_at, (
                  SELECT min(n.signs_from) FROM signing_keys n
                  WHERE n.operator_id = k.operator_id AND n.signs_from > now())) - now())
                  AS signs_for_s
              FROM signing_keys k
              WHERE k.operator_id = $1 AND k.signs_from <= now()
                AND (k.retired_at IS NULL OR k.retired_at > now())
              ORDER BY k.signs_from DESC LIMIT 1"""


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did: the announced key, when it signs, and the key it replaces."""

    kid: str
    signs_from: datetime
    replaces: str | None


def _key(row: asyncpg.Record, secret: bytes | None) -> SigningKey:
    try:
        private_pem = open_private_pem(bytes(row["private_pem"]), secret)
    except SigningKeyLocked as exc:
        raise SigningKeyLocked(f"signing key {row['kid']}: {exc}") from exc
    return SigningKey(row["kid"], row["operator_id"], private_pem, row["public_jwk"])


async def _insert_key(
    conn: asyncpg.Connection | asyncpg.Pool,
    operator_id: str,
    secret: bytes | None,
    lead: timedelta,
) -> asyncpg.Record | None:
    """Store a fresh key that signs `lead` from now; None if the operator has its newest key."""
    fresh = new_signing_key(operator_id)
    stored = fresh.private_pem if secret is None else seal_private_pem(fresh.private_pem, secret)
    row: asyncpg.Record | None = await conn.fetchrow(
        """INSERT INTO signing_keys (kid, operator_id, private_pem, public_jwk, signs_from)
           VALUES ($1, $2, $3, $4, now() + $5::interval)
           ON CONFLICT (operator_id) WHERE retired_at IS NULL DO NOTHING
           RETURNING kid, signs_from""",
        fresh.kid,
        operator_id,
        stored,
        fresh.public_jwk,
        lead,
    )
    return row


async def ensure_signing_key(
    conn: asyncpg.Connection | asyncpg.Pool, operator_id: str, secret: bytes | None
) -> bool:
    """Give an operator its first signing key at onboarding; return whether one was made."""
    return await _insert_key(conn, operator_id, secret, timedelta(0)) is not None


async def ensure_every_signing_key(pool: asyncpg.Pool, secret: bytes | None) -> list[str]:
    """Give a key to every operator that has none (onboarded before keys came with it)."""
    missing: list[str] = [
        r["id"]
        for r in await pool.fetch(
            """SELECT id FROM operators o
               WHERE NOT EXISTS (SELECT 1 FROM signing_keys k WHERE k.operator_id = o.id)
               ORDER BY id"""
        )
    ]
    return [op for op in missing if await ensure_signing_key(pool, op, secret)]


async def get_active_key(
    conn: asyncpg.Connection | asyncpg.Pool,
    operator_id: str,
    secret: bytes | None,
    cache: Cache | None = None,
) -> SigningKey:
    """Return the key that signs the operator's tickets now; `NoSigningKey` if it has none.

    With a `cache`, the opened key is kept until it stops signing (or the cache's TTL).
    """

    async def load() -> tuple[SigningKey, float]:
        row = await conn.fetchrow(_SIGNING, operator_id)
        if row is None:
            raise NoSigningKey(
                f"operator {operator_id!r} has no signing key: onboard it with POST /v1/operators "
                "or `maas operators create`, or restart the gateway to give it one"
            )
        signs_for_s = row["signs_for_s"]
        return _key(row, secret), float("inf") if signs_for_s is None else float(signs_for_s)

    if cache is None:
        return (await load())[0]
    key, _ = await cache.get("signing_keys", operator_id, load, keep_s=lambda found: found[1])
    return key


async def rotate_key(
    conn: asyncpg.Connection, operator_id: str, secret: bytes | None, lead: timedelta
) -> Rotation:
    """Publish the operator's next key now; it signs `lead` from now, the current key until then.

    Raises `KeyRotationPending` while the key of the previous rotation has not started signing.
    """
    async with conn.transaction():
        # Rotations of one operator take turns: two at once would both retire the same key.
        await conn.execute("SELECT 1 FROM operators WHERE id = $1 FOR UPDATE", operator_id)
        newest = await conn.fetchrow(
            """SELECT kid, signs_from, signs_from > now() AS pending FROM signing_keys
               WHERE operator_id = $1 AND retired_at IS NULL""",
            operator_id,
        )
        if newest is not None and newest["pending"]:
            raise KeyRotationPending(
                f"key {newest['kid']} of {operator_id} signs from "
                f"{newest['signs_from'].isoformat()}; rotate again after that"
            )
        if newest is not None:
            await conn.execute(
                "UPDATE signing_keys SET retired_at = now() + $2::interval WHERE kid = $1",
                newest["kid"],
                lead,
            )
        row = await _insert_key(conn, operator_id, secret, lead)
        if row is None:  # cannot happen: the one key without retired_at was just retired
            raise KeyRotationPending(f"another key of {operator_id} is being announced")
        return Rotation(row["kid"], row["signs_from"], newest["kid"] if newest else None)


async def check_active_keys(conn: asyncpg.Connection | asyncpg.Pool, secret: bytes | None) -> int:
    """Return how many keys that sign now or later are stored in clear, after opening each.

    Raises `SigningKeyLocked` naming the first key the secret does not open.
    """
    rows = await conn.fetch(
        "SELECT * FROM signing_keys WHERE retired_at IS NULL OR retired_at > now()"
    )
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
    """Return the JWKS: keys that sign now or later, and retired keys with a valid ticket."""
    rows = await conn.fetch(
        """SELECT public_jwk FROM signing_keys k
           WHERE retired_at IS NULL OR retired_at > $1
              OR EXISTS (SELECT 1 FROM tickets t WHERE t.kid = k.kid AND t.valid_until > $1)
           ORDER BY operator_id, signs_from""",
        now,
    )
    return {"keys": [r["public_jwk"] for r in rows]}


def jwks_etag(jwks: dict[str, Any]) -> str:
    """Return a strong ETag of a key set (the same keys give the same tag in every process)."""
    digest = hashlib.sha256(orjson.dumps(jwks, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'"{digest[:32]}"'
