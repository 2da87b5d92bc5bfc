"""Operators in PostgreSQL: create, find, list (the rows behind `/v1/operators`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

_COLUMNS = "id, name, business_id, contact_email, timezone, sales_channel, terms_url, created_at"


@dataclass(frozen=True, slots=True)
class Operator:
    """A transport operator the gateway publishes and sells for."""

    id: str
    name: str
    business_id: str | None
    contact_email: str | None
    timezone: str
    sales_channel: str
    terms_url: str | None
    created_at: datetime


async def create_operator(
    pool: asyncpg.Pool,
    operator_id: str,
    name: str,
    *,
    business_id: str | None = None,
    contact_email: str | None = None,
    timezone: str = "Europe/Helsinki",
    sales_channel: str = "hosted",
    terms_url: str | None = None,
) -> Operator | None:
    """Insert an operator; return it, or None when the id is taken."""
    row = await pool.fetchrow(
        "INSERT INTO operators (id, name, business_id, contact_email, timezone, sales_channel,"
        f" terms_url) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"
        f" RETURNING {_COLUMNS}",
        operator_id,
        name,
        business_id,
        contact_email,
        timezone,
        sales_channel,
        terms_url,
    )
    return Operator(**dict(row)) if row is not None else None


async def find_operator(pool: asyncpg.Pool, operator_id: str) -> Operator | None:
    """Return an operator, or None."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM operators WHERE id = $1", operator_id)
    return Operator(**dict(row)) if row is not None else None


async def list_operators(pool: asyncpg.Pool, after: str | None, limit: int) -> list[Operator]:
    """Return up to `limit` operators ordered by id, after the id `after`."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM operators WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
        after,
        limit,
    )
    return [Operator(**dict(r)) for r in rows]
