"""Webhook endpoints: registered by an app, an operator or the planners, each seeing its own.

An endpoint's owner is the party it belongs to (`tenant:<id>`, `operator:<id>`, `planner`);
it receives only events whose `owners` name it. The secret is shown once, at registration
and at rotation, and stored sealed with `MAAS_SIGNING_KEY_SECRET` like operators' tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sales.sealed import seal, unseal
from webhooks import signing
from webhooks.errors import WebhookNotFound


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered endpoint as its owner sees it (never the secret)."""

    id: uuid.UUID
    url: str
    events: list[str]
    status: str
    created_at: datetime
    failing_since: datetime | None
    previous_secret_until: datetime | None


def _endpoint(row: asyncpg.Record) -> Endpoint:
    return Endpoint(
        row["id"],
        row["url"],
        list(row["events"]),
        row["status"],
        row["created_at"],
        row["failing_since"],
        row["previous_until"],
    )


async def create_endpoint(
    pool: asyncpg.Pool, owner: str, url: str, events: list[str], sealing: bytes | None
) -> tuple[Endpoint, str]:
    """Register an endpoint; return it and its signing secret (shown only now)."""
    secret = signing.new_secret()
    row = await pool.fetchrow(
        """INSERT INTO webhook_endpoints (id, owner, url, events, secret)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        uuid.uuid4(),
        owner,
        url,
        events,
        seal(secret, sealing),
    )
    return _endpoint(row), secret


async def list_endpoints(pool: asyncpg.Pool, owner: str | None) -> list[Endpoint]:
    """Return an owner's endpoints (every one for None: the admin), oldest first."""
    rows = await pool.fetch(
        """SELECT * FROM webhook_endpoints WHERE deleted_at IS NULL
             AND ($1::text IS NULL OR owner = $1) ORDER BY created_at, id""",
        owner,
    )
    return [_endpoint(r) for r in rows]


async def get_endpoint(pool: asyncpg.Pool, owner: str | None, endpoint_id: uuid.UUID) -> Endpoint:
    """Return one of an owner's endpoints (`WebhookNotFound` if not theirs)."""
    row = await pool.fetchrow(
        """SELECT * FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL
             AND ($2::text IS NULL OR owner = $2)""",
        endpoint_id,
        owner,
    )
    if row is None:
        raise WebhookNotFound(f"webhook {str(endpoint_id)!r} does not exist")
    return _endpoint(row)


async def delete_endpoint(pool: asyncpg.Pool, owner: str | None, endpoint_id: uuid.UUID) -> None:
    """Stop delivering to an endpoint (what it has not received is dropped)."""
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            """UPDATE webhook_endpoints SET deleted_at = now()
               WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR owner = $2)
               RETURNING true""",
            endpoint_id,
            owner,
        )
        if not done:
            raise WebhookNotFound(f"webhook {str(endpoint_id)!r} does not exist")
        await conn.execute(
            "DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND delivered_at IS NULL",
            endpoint_id,
        )


async def rotate_secret(
    pool: asyncpg.Pool,
    owner: str | None,
    endpoint_id: uuid.UUID,
    grace: timedelta,
    sealing: bytes | None,
) -> tuple[Endpoint, str]:
    """Give an endpoint a new secret; the old one keeps signing too for `grace`."""
    secret = signing.new_secret()
    row = await pool.fetchrow(
        """UPDATE webhook_endpoints SET previous_secret = secret, previous_until = now() + $3,
                  secret = $4
           WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR owner = $2)
           RETURNING *""",
        endpoint_id,
        owner,
        grace,
        seal(secret, sealing),
    )
    if row is None:
        raise WebhookNotFound(f"webhook {str(endpoint_id)!r} does not exist")
    return _endpoint(row), secret


async def reactivate(pool: asyncpg.Pool, owner: str | None, endpoint_id: uuid.UUID) -> Endpoint:
    """Deliver again to a failing endpoint: what it missed is retried now, in order."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE webhook_endpoints SET status = 'active', failing_since = NULL
               WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR owner = $2)
               RETURNING *""",
            endpoint_id,
            owner,
        )
        if row is None:
            raise WebhookNotFound(f"webhook {str(endpoint_id)!r} does not exist")
        await conn.execute(
            """UPDATE webhook_deliveries SET next_attempt_at = now(), created_at = now()
               WHERE endpoint_id = $1 AND delivered_at IS NULL""",
            endpoint_id,
        )
    return _endpoint(row)


def signing_secrets(row: asyncpg.Record, now: datetime, sealing: bytes | None) -> list[str]:
    """Return the secrets that sign for an endpoint now: its own, and the old one in grace."""
    found = [unseal(row["secret"], sealing)]
    if row["previous_secret"] and row["previous_until"] and row["previous_until"] > now:
        found.append(unseal(row["previous_secret"], sealing))
    return found
