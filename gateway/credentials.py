"""API keys: `mk_<role>_<prefix8>_<secret>`; the database keeps the prefix and a hash only."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from sales.cache import Cache

Role = Literal["maas", "operator", "planner", "admin"]
ROLES: tuple[Role, ...] = ("maas", "operator", "planner", "admin")
_KEY = re.compile(r"^(mk_[a-z]+_[A-Za-z0-9]{8})_([A-Za-z0-9_-]{32,64})$")
_ALPHANUM = string.ascii_letters + string.digits
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the role of the key and the tenant or operator it is bound to."""

    key_id: int
    prefix: str
    role: Role
    name: str
    tenant_id: str | None
    operator_id: str | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key as `maas keys list` shows it (never the secret)."""

    prefix: str
    role: Role
    name: str
    tenant_id: str | None
    operator_id: str | None
    created_at: datetime
    revoked_at: datetime | None


def _digest(key: str) -> bytes:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(key.encode()).digest()


def slug(text: str) -> str:
    """Return a lowercase id made of letters, digits and dashes (at least two characters)."""
    text = _SLUG.sub("-", text.lower()).strip("-")[:63]
    return text if len(text) >= 2 else f"tenant-{text}".strip("-")


class TenantTaken(ValueError):
    """A maas key without a tenant id would join the tenant its name stands for."""


async def create_key(
    conn: asyncpg.Connection | asyncpg.Pool,
    role: Role,
    name: str,
    operator_id: str | None = None,
    tenant_id: str | None = None,
) -> str:
    """Create a key and return it in full: the only time the secret is seen."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if (role == "operator") != (operator_id is not None):
        raise ValueError("an operator key needs --operator, and only an operator key takes it")
    if role != "maas" and tenant_id is not None:
        raise ValueError("only a maas key takes a tenant")
    prefix = f"mk_{role}_" + "".join(secrets.choice(_ALPHANUM) for _ in range(8))
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    insert = """INSERT INTO api_keys (prefix, secret_hash, role, name, tenant_id, operator_id)
                VALUES ($1, $2, $3, $4, $5, $6)"""
    if role != "maas" or tenant_id is not None:
        await conn.execute(insert, prefix, _digest(key), role, name, tenant_id, operator_id)
        return key
    # A tenant named after the key must be a new one: two apps whose names slug alike
    # would otherwise see each other's bookings. Joining a tenant takes its id.
    tenant_id = slug(name)
    async with _connection(conn) as c, c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "tenant:" + tenant_id)
        if await c.fetchval("SELECT 1 FROM api_keys WHERE tenant_id = $1", tenant_id):
            raise TenantTaken(
                f"tenant {tenant_id!r} exists: pass its id to add a key to it, or another name"
            )
        await c.execute(insert, prefix, _digest(key), role, name, tenant_id, operator_id)
    return key


@asynccontextmanager
async def _connection(
    conn: asyncpg.Connection | asyncpg.Pool,
) -> AsyncIterator[asyncpg.Connection]:
    """Yield the connection, or one acquired from the pool."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired:
            yield acquired
    else:
        yield conn


def key_prefix(key: str) -> str:
    """Return the visible prefix of a well-formed key."""
    match = _KEY.match(key)
    if not match:
        raise ValueError("not an API key of this gateway")
    return match[1]


async def authenticate(
    conn: asyncpg.Connection | asyncpg.Pool, key: str, cache: Cache | None = None
) -> Principal | None:
    """Return the principal of a valid, unrevoked key, or None.

    With a `cache`, a key's row is read once; a revocation anywhere drops it (`maas_cache`).
    """
    match = _KEY.match(key)
    if not match:
        return None

    async def load() -> asyncpg.Record | None:
        found: asyncpg.Record | None = await conn.fetchrow(
            """SELECT id, prefix, secret_hash, role, name, tenant_id, operator_id
               FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL""",
            match[1],
        )
        return found

    row = await (load() if cache is None else cache.get("api_keys", match[1], load))
    if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _digest(key)):
        return None
    return Principal(
        row["id"], row["prefix"], row["role"], row["name"], row["tenant_id"], row["operator_id"]
    )


async def list_keys(
    conn: asyncpg.Connection | asyncpg.Pool,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[KeyInfo]:
    """Return keys newest first: all, or `limit` of them after (created_at, prefix) `after`."""
    created, prefix = after if after is not None else (None, None)
    rows = await conn.fetch(
        """SELECT prefix, role, name, tenant_id, operator_id, created_at, revoked_at
           FROM api_keys
           WHERE $1::timestamptz IS NULL OR (created_at, prefix) < ($1, $2)
           ORDER BY created_at DESC, prefix DESC LIMIT $3""",
        created,
        prefix,
        limit,
    )
    return [KeyInfo(**dict(r)) for r in rows]


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, prefix: str) -> bool:
    """Revoke the key with this prefix; return False when no active key has it."""
    status: str = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    return status.endswith(" 1")
