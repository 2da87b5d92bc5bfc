"""Settlement: what each app owes each operator per month, and closed, signed statements.

The ledger (`settlement_entries`) gets a line per ticket sold and per refund from
triggers, in the transaction of the sale or the cancel, each in the first month
(UTC) at or after the change that is not closed yet: a refund after a period is
closed goes to the next one. Closing a period locks the ledger against new lines
for the moment it sums, so nothing lands in a period after its statement was made;
the statement (one line per operator, app and currency, each a JWS signed with the
gateway's settlement key, published in the JWKS) never changes afterwards.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from joserfc import jwt
from joserfc.jwk import OKPKey

from sales.errors import InvalidReportPeriod, PeriodAlreadyClosed
from sales.tokens import (
    ALGORITHM,
    SigningKey,
    new_signing_key,
    open_private_pem,
    seal_private_pem,
)

#: Whose key signs statements (the JWKS entry's `iss`), and the JWS type.
ISSUER = "maas-gateway"
STATEMENT_TYPE = "maas-settlement+jwt"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class Line:
    """What one app owes one operator in one currency over a period (minor units)."""

    operator_id: str
    tenant_id: str
    currency: str
    tickets_sold: int
    sold_minor: int
    refunds: int
    refunded_minor: int
    fees_minor: int
    net_minor: int
    jws: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """A period's lines; `closed_at` is set once the period is closed and signed."""

    period: str
    closed_at: datetime | None
    kid: str | None
    lines: list[Line]


def check_period(period: str) -> str:
    """Return a `YYYY-MM` period, or raise `InvalidReportPeriod`."""
    if _PERIOD.fullmatch(period) is None:
        raise InvalidReportPeriod(f"period {period!r} is not a month YYYY-MM")
    return period


_SUMS = """
SELECT operator_id, tenant_id, currency,
       count(*) FILTER (WHERE kind = 'sale') AS tickets_sold,
       coalesce(sum(amount_minor) FILTER (WHERE kind = 'sale'), 0) AS sold_minor,
       count(*) FILTER (WHERE kind = 'refund') AS refunds,
       coalesce(sum(amount_minor) FILTER (WHERE kind = 'refund'), 0) AS refunded_minor,
       coalesce(sum(fee_minor) FILTER (WHERE kind = 'refund'), 0) AS fees_minor
FROM settlement_entries WHERE period = $1
GROUP BY operator_id, tenant_id, currency ORDER BY operator_id, tenant_id, currency
"""


def _line(row: asyncpg.Record | dict[str, Any]) -> Line:
    sold, refunded = int(row["sold_minor"]), int(row["refunded_minor"])
    return Line(
        row["operator_id"],
        row["tenant_id"],
        row["currency"],
        int(row["tickets_sold"]),
        sold,
        int(row["refunds"]),
        refunded,
        int(row["fees_minor"]),
        sold - refunded,
        row.get("jws") if isinstance(row, dict) else None,
    )


async def statement(
    pool: asyncpg.Pool, period: str, operator_id: str | None, tenant_id: str | None
) -> Statement:
    """Return a period's statement (the signed one once closed), for one party or all."""
    check_period(period)
    closed = await pool.fetchrow("SELECT * FROM settlement_statements WHERE period = $1", period)
    if closed is not None:
        lines = [_line(r) for r in closed["lines"]]
    else:
        lines = [_line(r) for r in await pool.fetch(_SUMS, period)]
    lines = [
        line
        for line in lines
        if operator_id in (None, line.operator_id) and tenant_id in (None, line.tenant_id)
    ]
    if closed is None:
        return Statement(period, None, None, lines)
    return Statement(period, closed["closed_at"], closed["kid"], lines)


async def _settlement_key(conn: asyncpg.Connection, secret: bytes | None) -> SigningKey:
    """Return the gateway's settlement key, made on first use."""
    row = await conn.fetchrow("SELECT * FROM settlement_keys ORDER BY created_at DESC LIMIT 1")
    if row is None:
        fresh = new_signing_key(ISSUER)
        stored = (
            fresh.private_pem if secret is None else seal_private_pem(fresh.private_pem, secret)
        )
        await conn.execute(
            "INSERT INTO settlement_keys (kid, private_pem, public_jwk) VALUES ($1, $2, $3)",
            fresh.kid,
            stored,
            fresh.public_jwk,
        )
        return fresh
    pem = open_private_pem(bytes(row["private_pem"]), secret)
    return SigningKey(row["kid"], ISSUER, pem, row["public_jwk"])


def _sign(key: SigningKey, claims: dict[str, Any]) -> str:
    private = OKPKey.import_key(key.private_pem, parameters={"kid": key.kid})
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": STATEMENT_TYPE}
    return jwt.encode(header, claims, private, algorithms=[ALGORITHM])


async def close_period(pool: asyncpg.Pool, period: str, secret: bytes | None) -> Statement:
    """Close a period once: sum its ledger, sign every line, store it for good."""
    check_period(period)
    now = datetime.now(UTC)
    if period > now.strftime("%Y-%m"):
        raise InvalidReportPeriod(f"period {period} has not begun")
    async with pool.acquire() as conn, conn.transaction():
        # Blocks new ledger lines (and waits for those being written) while the sums are made.
        await conn.execute("LOCK TABLE settlement_entries IN SHARE ROW EXCLUSIVE MODE")
        if await conn.fetchval("SELECT 1 FROM settlement_statements WHERE period = $1", period):
            raise PeriodAlreadyClosed(f"period {period} is closed; its statement never changes")
        key = await _settlement_key(conn, secret)
        closed_at = now.isoformat(timespec="seconds")
        lines = []
        for row in await conn.fetch(_SUMS, period):
            line = asdict(_line(row))
            del line["jws"]
            claims = {"iss": ISSUER, "period": period, "closed_at": closed_at, **line}
            lines.append({**line, "jws": _sign(key, claims)})
        summary = {"iss": ISSUER, "period": period, "closed_at": closed_at, "lines": len(lines)}
        await conn.execute(
            """INSERT INTO settlement_statements (period, closed_at, lines, kid, jws)
               VALUES ($1, $2, $3, $4, $5)""",
            period,
            now,
            lines,
            key.kid,
            _sign(key, summary),
        )
    return await statement(pool, period, None, None)


async def settlement_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    """Return the public keys that verify closed statements (for the JWKS)."""
    rows = await conn.fetch("SELECT public_jwk FROM settlement_keys ORDER BY created_at")
    return [r["public_jwk"] for r in rows]
