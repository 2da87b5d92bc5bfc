"""Delivering the outbox: claim with a lease, send with no lock held, record the outcome.

Every gateway process runs `dispatch_round`; deliveries are claimed with
`FOR UPDATE SKIP LOCKED` and a lease in one short transaction, so two processes never
send one delivery at once, and the lock is gone before anything is sent. An object's
events go out in order: only the earliest undelivered event of an object (per endpoint)
is ever claimable. A failure is retried with full-jitter exponential backoff; when an
event has waited `retry_for` (about three days) the endpoint is marked failing, its
deliveries stop, and its owner is told by a `webhook_endpoint.failing` event (delivered
to the owner's other endpoints, and in `GET /v1/events`).

`run` is the loop every process runs: a round, straight on while it delivers, else a
wait until woken (a `NOTIFY` on `CHANNEL`, sent when a transaction that queued a
delivery commits: migration 151) or until `interval_s` has passed, the poll that finds
retries come due and anything a lost LISTEN connection missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from webhooks import signing
from webhooks.endpoints import signing_secrets
from webhooks.errors import DeliveryFailed
from webhooks.feed import event_of

log = logging.getLogger(__name__)

#: The channel a commit that queued a delivery notifies (migration 151).
CHANNEL = "maas_webhooks"

#: Sends a body to a URL with headers and returns the HTTP status (raises `DeliveryFailed`).
Sender = Callable[[str, dict[str, str], bytes], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Schedule:
    """How long a delivery is held and how retries are spaced."""

    lease: timedelta = timedelta(seconds=30)
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    retry_for: timedelta = timedelta(days=3)
    batch: int = 100

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Return the full-jitter wait before the next try after `attempts` failed ones."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** min(attempts, 30))
        return timedelta(seconds=(rng or _RNG).uniform(0, ceiling))


_RNG = random.SystemRandom()

#: An undelivered event of the same object before this one (it must go first).
_EARLIER = """
SELECT 1 FROM webhook_deliveries p
WHERE p.endpoint_id = d.endpoint_id AND p.object_type = d.object_type
  AND p.object_id = d.object_id AND p.seq < d.seq AND p.delivered_at IS NULL"""

_CLAIM = (
    """
WITH due AS (
    SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1
      AND (d.lease_until IS NULL OR d.lease_until <= $1)
      AND w.status = 'active' AND w.deleted_at IS NULL
      AND NOT EXISTS ("""
    + _EARLIER
    + """)
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET lease_until = $1 + $3::interval, attempts = d.attempts + 1
FROM due WHERE d.endpoint_id = due.endpoint_id AND d.event_id = due.event_id
RETURNING d.endpoint_id, d.event_id, d.attempts, d.created_at AS queued_at
"""
)


async def claim(pool: asyncpg.Pool, now: datetime, schedule: Schedule) -> list[asyncpg.Record]:
    """Take the lease of due deliveries, with their event and endpoint; commit at once."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetch(_CLAIM, now, schedule.batch, schedule.lease)
    if not claimed:
        return []
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT c.attempts, c.queued_at, e.*, w.id AS endpoint_id, w.url, w.owner, w.secret,
                  w.previous_secret, w.previous_until
           FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::timestamptz[])
                AS c(endpoint_id, event_id, attempts, queued_at)
           JOIN events e ON e.id = c.event_id
           JOIN webhook_endpoints w ON w.id = c.endpoint_id""",
        [r["endpoint_id"] for r in claimed],
        [r["event_id"] for r in claimed],
        [r["attempts"] for r in claimed],
        [r["queued_at"] for r in claimed],
    )
    return rows


async def _send(
    row: asyncpg.Record, sender: Sender, now: datetime, sealing: bytes | None
) -> tuple[int | None, str | None]:
    body = orjson.dumps(event_of(row).message())
    secrets_ = signing_secrets(row, now, sealing)
    headers = signing.headers(secrets_, f"evt_{row['id']}", int(now.timestamp()), body)
    try:
        status = await sender(row["url"], headers, body)
    except DeliveryFailed as exc:
        return None, str(exc) or type(exc).__name__
    return status, None if 200 <= status < 300 else f"HTTP {status}"


_DELIVERED = """
UPDATE webhook_deliveries SET delivered_at = $3, lease_until = NULL, last_status = $4,
       last_error = NULL
WHERE endpoint_id = $1 AND event_id = $2 AND attempts = $5
"""
_RETRY = """
UPDATE webhook_deliveries SET next_attempt_at = $3, lease_until = NULL, last_status = $4,
       last_error = $6
WHERE endpoint_id = $1 AND event_id = $2 AND attempts = $5
"""


async def _record(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    outcome: tuple[int | None, str | None],
    now: datetime,
    schedule: Schedule,
) -> bool:
    """Record one outcome (unless another process took the delivery over); True if delivered."""
    status, error = outcome
    key = (row["endpoint_id"], row["id"])
    if error is None:
        await pool.execute(_DELIVERED, *key, now, status, row["attempts"])
        return True
    if now - row["queued_at"] >= schedule.retry_for:
        await _mark_failing(pool, row, now, error)
    nxt = now + schedule.delay(row["attempts"])
    await pool.execute(_RETRY, *key, nxt, status, row["attempts"], error[:500])
    return False


async def _mark_failing(pool: asyncpg.Pool, row: asyncpg.Record, now: datetime, error: str) -> None:
    """Stop delivering to an endpoint that failed for `retry_for`, and tell its owner."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await conn.fetchval(
            """UPDATE webhook_endpoints SET status = 'failing', failing_since = $2
               WHERE id = $1 AND status = 'active' RETURNING true""",
            row["endpoint_id"],
            now,
        )
        if moved:
            await conn.execute(
                "SELECT outbox_write('webhook_endpoint', $1, 'webhook_endpoint.failing', NULL, "
                "ARRAY[$2::text], $3)",
                str(row["endpoint_id"]),
                row["owner"],
                {"url": row["url"], "last_error": error, "oldest_event": row["id"]},
            )
    if moved:
        log.warning(
            "webhook endpoint failing", extra={"endpoint": str(row["endpoint_id"]), "error": error}
        )


async def dispatch_round(
    pool: asyncpg.Pool,
    sender: Sender,
    now: datetime,
    schedule: Schedule,
    sealing: bytes | None = None,
) -> int:
    """Claim due deliveries, send them together, record each; return how many were delivered."""
    rows = await claim(pool, now, schedule)
    outcomes = await asyncio.gather(*(_send(r, sender, now, sealing) for r in rows))
    delivered = 0
    for row, outcome in zip(rows, outcomes, strict=True):
        delivered += await _record(pool, row, outcome, now, schedule)
    return delivered


async def next_due(pool: asyncpg.Pool) -> datetime | None:
    """Return when the next delivery that may go (its object's first undelivered) is due."""
    found: datetime | None = await pool.fetchval(
        """SELECT min(d.next_attempt_at) FROM webhook_deliveries d
           JOIN webhook_endpoints w ON w.id = d.endpoint_id
           WHERE d.delivered_at IS NULL AND w.status = 'active' AND w.deleted_at IS NULL
             AND NOT EXISTS ("""
        + _EARLIER
        + ")"
    )
    return found


async def run(
    pool: asyncpg.Pool,
    sender: Sender,
    schedule: Schedule,
    interval_s: float,
    wake: asyncio.Event,
    sealing: bytes | None = None,
    until: Callable[[], bool] | None = None,
) -> None:
    """Dispatch until cancelled (or `until()`): on while delivering, else wait for `wake`.

    `wake` is cleared before each round, so a notification during a round runs another.
    """
    while until is None or not until():
        wake.clear()
        delivered = 0
        try:
            delivered = await dispatch_round(pool, sender, datetime.now(UTC), schedule, sealing)
        except Exception:
            log.exception("webhook dispatch round failed")
        if not delivered:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel
            # that lands as the wake comes, and the dispatcher would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await wake.wait()
