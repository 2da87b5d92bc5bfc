"""Idempotency keys: a retried POST gets the first answer instead of moving money twice.

Same key and same body: the stored response is replayed. Same key, another
body: 422. A second request while the first is still running: 409. Keys are
scoped to the tenant and kept at least `KEEP_HOURS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from gateway.problems import Problem

KEEP_HOURS = 24


def request_hash(method: str, path: str, body: Any) -> str:
    """Return a fingerprint of a request: method, path and canonical JSON body."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path} ".encode() + canonical).hexdigest()


async def run_once(
    pool: asyncpg.Pool,
    tenant_id: str,
    key: str,
    fingerprint: str,
    action: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any]:
    """Run `action` once per (tenant, key); replay its (status, body) for a repeat."""
    claimed = await pool.fetchval(
        """INSERT INTO idempotency_keys (tenant_id, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        tenant_id,
        key,
        fingerprint,
    )
    if not claimed:
        return await _replay(pool, tenant_id, key, fingerprint)
    try:
        status, body = await action()
    except Problem as problem:
        if problem.status >= 500:
            await _forget(pool, tenant_id, key)
            raise
        await _store(pool, tenant_id, key, problem.status, problem.body(""))
        raise
    except BaseException:
        await _forget(pool, tenant_id, key)
        raise
    await _store(pool, tenant_id, key, status, body)
    return status, body


async def _replay(
    pool: asyncpg.Pool, tenant_id: str, key: str, fingerprint: str
) -> tuple[int, Any]:
    row = await pool.fetchrow(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys "
        "WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
    )
    if row is None:  # forgotten after a failure a moment ago: the client may simply retry
        raise Problem(409, "idempotency_key_in_progress", "Conflict", "retry the request")
    if row["request_hash"] != fingerprint:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency key reused",
            "this Idempotency-Key was used with another request body; use a new key",
        )
    if row["status_code"] is None:
        raise Problem(
            409,
            "idempotency_key_in_progress",
            "Conflict",
            "a request with this Idempotency-Key is still being processed",
        )
    body = row["response_body"]
    if row["status_code"] >= 400:
        raise Problem(row["status_code"], body["code"], body["title"], body.get("detail"))
    return int(row["status_code"]), body


async def _store(pool: asyncpg.Pool, tenant_id: str, key: str, status: int, body: Any) -> None:
    await pool.execute(
        "UPDATE idempotency_keys SET status_code = $3, response_body = $4 "
        "WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
        status,
        body,
    )


async def _forget(pool: asyncpg.Pool, tenant_id: str, key: str) -> None:
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", tenant_id, key
    )


async def purge_old(pool: asyncpg.Pool) -> int:
    """Delete keys older than the retention period; return how many."""
    status: str = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        KEEP_HOURS,
    )
    return int(status.split()[-1])
