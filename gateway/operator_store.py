"""Operators in PostgreSQL: create, find, list (the rows behind `/v1/operators`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sales import sealed
from sales.errors import OperatorInvalid
from sales.tokens import SigningKeyLocked

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
    tomp_url: str | None = None,
    tomp_token: str | None = None,
    secret: bytes | None = None,
) -> Operator | None:
    """Insert an operator; return it, or None when the id is taken.

    A back-end's token is stored sealed with `secret` (in clear without one).
    """
    check_sales_channel(sales_channel, tomp_url, tomp_token)
    row = await pool.fetchrow(
        "INSERT INTO operators (id, name, business_id, contact_email, timezone, sales_channel,"
        " terms_url, tomp_url, tomp_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        f" ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}",
        operator_id,
        name,
        business_id,
        contact_email,
        timezone,
        sales_channel,
        terms_url,
        tomp_url,
        None if tomp_token is None else sealed.seal(tomp_token, secret),
    )
    return Operator(**dict(row)) if row is not None else None


def check_sales_channel(channel: str, tomp_url: str | None, tomp_token: str | None) -> None:
    """Refuse a sales channel whose back-end details cannot work (`OperatorInvalid`)."""
    if channel not in ("hosted", "tomp"):
        raise OperatorInvalid(f"unknown sales channel {channel!r}: hosted or tomp")
    if channel == "tomp" and not (tomp_url and tomp_url.startswith(("http://", "https://"))):
        raise OperatorInvalid("an operator selling over tomp needs an http(s) tomp_url")
    if channel == "hosted" and (tomp_url or tomp_token):
        raise OperatorInvalid("tomp_url and tomp_token are for the tomp sales channel")


async def check_tomp_tokens(pool: asyncpg.Pool, secret: bytes | None) -> int:
    """Open every sealed back-end token; return how many are stored in clear.

    Raises `SigningKeyLocked` naming the operator whose token the secret does not open.
    """
    rows = await pool.fetch("SELECT id, tomp_token FROM operators WHERE tomp_token IS NOT NULL")
    for row in rows:
        try:
            sealed.unseal(row["tomp_token"], secret)
        except SigningKeyLocked as exc:
            raise SigningKeyLocked(f"operator {row['id']}'s tomp_token: {exc}") from exc
    return sum(not sealed.is_sealed(row["tomp_token"]) for row in rows)


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
