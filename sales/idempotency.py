"""Idempotency keys: a retried POST gets the first answer instead of moving money twice.

Same key and same body: the stored outcome (the result, or the final error) is
replayed. Same key, another body: `IdempotencyKeyReused`. A second request while
the first is still running: `IdempotencyKeyInProgress`. Keys are scoped to the
tenant and kept at least `KEEP_HOURS`.

A claim is a lease (`locked_until`), not a lock that only its owner can lift:
when the first request dies, or loses its database connection before it can
record how it ended, a retry after the lease takes the key over and runs the
action again. Actions must therefore be safe to run again: booking finds the
booking its key already committed (`bookings.idempotency_key`) and resumes it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from sales.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, SalesError

log = logging.getLogger(__name__)

KEEP_HOURS = 24
#: How the first request ended (`outcome` is NULL while it runs).
DONE, ERROR = "done", "error"


def request_hash(method: str, path: str, body: Any) -> str:
    """Return a fingerprint of a request: method, path and canonical JSON body."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path} ".encode() + canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """An action's JSON result, and whether it is the replay of an earlier request's."""

    body: Any
    replayed: bool


async def run_once(
    pool: asyncpg.Pool,
    tenant_id: str,
    key: str,
    fingerprint: str,
    action: Callable[[], Awaitable[Any]],
    lease: timedelta = timedelta(minutes=1),
) -> Outcome:
    """Run `action` once per (tenant, key); replay its JSON result (or final error) for a repeat.

    A replayed error is raised with `replayed` set, so the edge can say so.
    """

    async def act(_: list[asyncpg.Record]) -> Any:
        return await action()

    return await run_once_reading(pool, tenant_id, key, fingerprint, None, act, lease)


@dataclass(frozen=True, slots=True)
class Read:
    """A SELECT run in the claim's statement: its text uses $5, $6... for its `args`.

    It runs whether or not the claim is won, in the claim's snapshot, so it must be one
    the action would make anyway and be harmless to repeat.
    """

    select: str
    args: tuple[Any, ...]


async def run_once_reading(
    pool: asyncpg.Pool,
    tenant_id: str,
    key: str,
    fingerprint: str,
    read: Read | None,
    action: Callable[[list[asyncpg.Record]], Awaitable[Any]],
    lease: timedelta = timedelta(minutes=1),
) -> Outcome:
    """Run `action` as `run_once` does, given the rows of `read`, read with the claim.

    One round trip fewer than reading after the claim. The rows carry a `claimed` column
    too, and a row of NULLs stands for none.
    """
    claimed, rows = await _claim(pool, tenant_id, key, fingerprint, lease, read)
    if not claimed:
        try:
            return Outcome(await _replay(pool, tenant_id, key, fingerprint), replayed=True)
        except SalesError as error:
            error.replayed = error.code not in _NOT_REPLAYS
            raise
    try:
        result = await action(rows)
    except SalesError as error:
        if not error.final:
            await _let_go(pool, tenant_id, key)
            raise
        await _store(pool, tenant_id, key, ERROR, error.as_record())
        raise
    except BaseException:
        await _let_go(pool, tenant_id, key)
        raise
    await _store(pool, tenant_id, key, DONE, result)
    return Outcome(result, replayed=False)


#: Answers about the key itself, not replays of the first request's outcome.
_NOT_REPLAYS = frozenset({"idempotency_key_in_progress", "idempotency_key_reused"})


#: Claim the key, or take over a claim whose lease has passed with no outcome recorded.
_CLAIM = """INSERT INTO idempotency_keys (tenant_id, key, request_hash, locked_until)
           VALUES ($1, $2, $3, now() + $4::interval)
           ON CONFLICT (tenant_id, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
           WHERE idempotency_keys.outcome IS NULL
             AND idempotency_keys.locked_until <= now()
             AND idempotency_keys.request_hash = EXCLUDED.request_hash
           RETURNING true"""


async def _claim(
    pool: asyncpg.Pool,
    tenant_id: str,
    key: str,
    fingerprint: str,
    lease: timedelta,
    read: Read | None = None,
) -> tuple[bool, list[asyncpg.Record]]:
    """Claim the key (see `_CLAIM`); return whether it is ours, and the rows of `read`."""
    if read is None:
        claimed = await pool.fetchval(_CLAIM, tenant_id, key, fingerprint, lease)
        return bool(claimed), []
    rows: list[asyncpg.Record] = await pool.fetch(
        f"""WITH claim AS ({_CLAIM})
            SELECT EXISTS (SELECT FROM claim) AS claimed, r.*
            FROM (SELECT) AS one LEFT JOIN LATERAL ({read.select}) AS r ON true""",
        tenant_id,
        key,
        fingerprint,
        lease,
        *read.args,
    )
    return bool(rows[0]["claimed"]), rows


async def _replay(pool: asyncpg.Pool, tenant_id: str, key: str, fingerprint: str) -> Any:
    row = await pool.fetchrow(
        "SELECT request_hash, outcome, response_body, locked_until FROM idempotency_keys "
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
            "a request with this Idempotency-Key is still being processed; if it failed, "
            f"a retry after {row['locked_until'].isoformat()} runs it again or replays it",
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


async def _let_go(pool: asyncpg.Pool, tenant_id: str, key: str) -> None:
    """Give the key back after a failure; when even that fails, the lease lets it go."""
    try:
        await pool.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND outcome IS NULL",
            tenant_id,
            key,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        log.warning("idempotency key kept until its lease ends", extra={"key": key})


async def purge_old(pool: asyncpg.Pool) -> int:
    """Delete keys older than the retention period; return how many."""
    status: str = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        KEEP_HOURS,
    )
    return int(status.split()[-1])
