"""The consent audit log's key: receipts name a traveller only by HMAC(audit key, tenant, ref).

The key is one random row of `flow_audit_key` (made by migration 130, never
rotated, so the log stays linkable to travellers who have not been erased).
With the reference an app sends, the gateway recomputes the HMAC and finds that
traveller's receipts; once the traveller is erased nothing stored names the
reference, and the log still proves that a consent was given and withdrawn.
"""

from __future__ import annotations

import asyncpg

from flows.pseudonyms import pseudonym

#: How a stored receipt's `piiPrincipalId` reads: the HMAC, never the reference.
PRINCIPAL_PREFIX = "hmac-sha256:"


async def audit_key(conn: asyncpg.Connection | asyncpg.Pool) -> bytes:
    """Return the audit log's key."""
    key: bytes = await conn.fetchval("SELECT key FROM flow_audit_key")
    return bytes(key)


def principal(key: bytes, tenant_id: str, traveller_ref: str) -> bytes:
    """Return the traveller's HMAC-SHA256 under the audit key (the pseudonyms' construction)."""
    return pseudonym(key, tenant_id, traveller_ref)


async def principal_of(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, traveller_ref: str
) -> bytes:
    """Return the key the audit log files the tenant's traveller under."""
    return principal(await audit_key(conn), tenant_id, traveller_ref)


def stored_principal_id(name: bytes) -> str:
    """Return the `piiPrincipalId` a stored receipt carries instead of the reference."""
    return PRINCIPAL_PREFIX + name.hex()
