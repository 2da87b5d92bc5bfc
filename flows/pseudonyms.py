"""Pseudonyms: a keyed hash of (tenant, traveller reference) with a key per period.

The key of a period is random, kept in `flow_period_keys` while trips of the
period are recorded, and deleted after the period's first release plus a grace
time. Without it nobody, the gateway included, can tell whose trips they were,
and no other key links one period's pseudonyms to another's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import asyncpg

KEY_BYTES = 32


def new_key() -> bytes:
    """Return a fresh random period key."""
    return secrets.token_bytes(KEY_BYTES)


def pseudonym(key: bytes, tenant_id: str, traveller_ref: str) -> bytes:
    """Return HMAC-SHA256 of the tenant and reference (a zero byte keeps the two apart)."""
    message = tenant_id.encode() + b"\x00" + traveller_ref.encode()
    return hmac.new(key, message, hashlib.sha256).digest()


async def live_keys(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, bytes]:
    """Return every period's key that still exists."""
    rows = await conn.fetch("SELECT period, key FROM flow_period_keys")
    return {r["period"]: bytes(r["key"]) for r in rows}


async def pseudonyms_of(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, traveller_ref: str
) -> dict[str, bytes]:
    """Return the traveller's pseudonym in each period whose key still exists."""
    keys = await live_keys(conn)
    return {period: pseudonym(key, tenant_id, traveller_ref) for period, key in keys.items()}
