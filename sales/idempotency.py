"""Idempotency keys: a retried POST gets the first answer instead of moving money twice.

Same key and same body: the stored outcome (the result, or the final error) is
replayed. Same key, another body: `IdempotencyKeyReused`. A second request while
the first is still running: `IdempotencyKeyInProgress`. Keys are scoped to the
tenant and kept at least `KEEP_HOURS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from sales.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, SalesError

KEEP_HOURS = 24
#: How the first request ended (`outcome` is NULL while it runs).
DONE, ERROR = "done", "error"


def request_hash(method: str, path: str, body: Any) -> str:
    """Return a fingerprint of a request: method, path and canonical JSON body."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path} ".encode() + canonical).hexdigest()


async def run_once(
    pool: asyncpg.Pool,
    tenant_id: str,
    key: str,
    fingerprint: str,
    action: Callable[[], Awaitable[Any]],
) -> Any:
    """Run `action` once per (tenant, key); replay its JSON result (or final error) for a repeat."""
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
        result = await action()
    except SalesError as error:
        if not error.final:
            await _forget(pool, tenant_id, key)
            raise
        await _store(pool, tenant_id, key, ERROR, error.as_record())
        raise
    except BaseException:
        await _forget(pool, tenant_id, key)
        raise
    await _store(pool, tenant_id, key, DONE, result)
    return result


async def _replay(pool: asyncpg.Pool, tenant_id: str, key: str, fingerprint: str) -> Any:
    row = await pool.fetchrow(
        "SELECT request_hash, outcome, response_body FROM idempotency_keys "
        "WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
    )
    if row is None:  # forgotten after a failure a moment ago: the client may simply retry
        raise IdempotencyKeyInProgress("retry the request")
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another request body; use a new key",
        )
    if row["outcome"] is None:
        raise IdempotencyKeyInProgress(
            "a request with this Idempotency-Key is still being processed",
        )
    body = row["response_body"]
    if row["outcome"] == ERROR:
        raise SalesError.from_record(body)
    return body


async def _store(pool: asyncpg.Pool, tenant_id: str, key: str, outcome: str, body: Any) -> None:
    await pool.execute(
        "UPDATE idempotency_keys SET outcome = $3, response_body = $4 "
        "WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
        outcome,
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
