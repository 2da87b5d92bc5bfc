"""Operators' conditions of sale as data: per product, or for all of an operator's products.

A product's conditions are its own row's fields, then the operator's row for all
products, then the operator's columns (`ticket_validity_min`, `refund_fee_minor`),
then the defaults below: each field falls back on its own, so an operator can
change one thing for one product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from sales.cache import Cache
from sales.errors import NotFound
from sales.schemas import Conditions

#: The row of an operator's conditions that holds for all its products.
ALL_PRODUCTS = ""
_FIELDS = (
    "cancellable",
    "refundable",
    "refundable_before_min",
    "refund_fee_minor",
    "validity_min",
    "sold_alone",
)


class ConditionSet(BaseModel):
    """Conditions an operator sets; a field left out falls back on the wider setting."""

    model_config = ConfigDict(extra="forbid")

    cancellable: bool | None = Field(default=None, description="may a booking be cancelled")
    refundable: bool | None = Field(default=None, description="does a cancel give money back")
    refundable_before_min: int | None = Field(
        default=None,
        ge=0,
        le=60 * 24 * 365,
        description="refundable until this many minutes before departure (a leg) "
        "or before the validity starts (a product)",
    )
    refund_fee_minor: int | None = Field(
        default=None, ge=0, description="kept from each refunded leg, in its currency's minor units"
    )
    validity_min: int | None = Field(
        default=None, gt=0, le=60 * 24 * 366, description="how long a product sold alone is valid"
    )
    sold_alone: bool | None = Field(
        default=None,
        description="sell the product on its own even if no fare leg rule prices it "
        "(a day ticket); products no leg rule prices are otherwise not sold alone",
    )


class OperatorConditions(BaseModel):
    """All of an operator's conditions: for all products, and per product (by product id)."""

    model_config = ConfigDict(extra="forbid")

    all_products: ConditionSet = Field(
        default_factory=ConditionSet,
        description="what holds for every product the operator sells, unless a product says else",
    )
    products: dict[str, ConditionSet] = Field(
        default_factory=dict,
        max_length=1000,
        description="by product id (without the operator prefix): what differs for that product",
    )


@dataclass(frozen=True, slots=True)
class Terms:
    """One product's resolved conditions."""

    cancellable: bool
    refundable: bool
    refundable_before: timedelta
    refund_fee_minor: int
    validity: timedelta
    sold_alone: bool

    def conditions(self, start: datetime) -> Conditions:
        """Return the conditions of a leg whose departure (or validity) starts at `start`."""
        refundable = self.cancellable and self.refundable
        return Conditions(
            cancellable=self.cancellable,
            refundable_until=start - self.refundable_before if refundable else None,
            refund_fee_minor=self.refund_fee_minor if refundable else 0,
        )


def product_key(operator_id: str, product_id: str) -> str:
    """Return a product id in its operator's namespace ("day" and "op:day" give "op:day")."""
    if product_id == ALL_PRODUCTS or product_id.startswith(f"{operator_id}:"):
        return product_id
    return f"{operator_id}:{product_id}"


class OperatorTerms:
    """An operator's time zone and conditions of sale, resolved per product."""

    def __init__(self, row: asyncpg.Record, sets: Mapping[str, ConditionSet]) -> None:
        self.operator_id: str = row["id"]
        self.timezone = ZoneInfo(row["timezone"])
        self._base = ConditionSet(
            cancellable=True,
            refundable=True,
            refundable_before_min=0,
            refund_fee_minor=row["refund_fee_minor"],
            validity_min=row["ticket_validity_min"],
            sold_alone=False,
        )
        self._sets = dict(sets)

    def _field(self, product_id: str | None, name: str) -> Any:
        for key in (product_id, ALL_PRODUCTS):
            chosen = self._sets.get(key) if key is not None else None
            value = getattr(chosen, name) if chosen is not None else None
            if value is not None:
                return value
        return getattr(self._base, name)

    def for_product(self, product_id: str | None) -> Terms:
        """Return the conditions of one product (None: a leg no product prices)."""
        key = product_key(self.operator_id, product_id) if product_id else None
        v = {name: self._field(key, name) for name in _FIELDS}
        return Terms(
            cancellable=v["cancellable"],
            refundable=v["refundable"],
            refundable_before=timedelta(minutes=v["refundable_before_min"]),
            refund_fee_minor=v["refund_fee_minor"],
            validity=timedelta(minutes=v["validity_min"]),
            sold_alone=v["sold_alone"],
        )

    def marked_sold_alone(self) -> frozenset[str]:
        """Return the products the operator sells on their own whatever the fare rules."""
        return frozenset(
            key for key in self._sets if key != ALL_PRODUCTS and self.for_product(key).sold_alone
        )


async def operator_terms(
    conn: asyncpg.Pool | asyncpg.Connection, operator_ids: set[str], cache: Cache | None = None
) -> dict[str, OperatorTerms]:
    """Return the terms of each operator (`NotFound` naming an unknown one).

    With a `cache`, the terms of a set of operators are read once until one changes.
    """
    if cache is None:
        return await _read_terms(conn, operator_ids)
    key = ("terms", *sorted(operator_ids))
    return await cache.get("operators", key, lambda: _read_terms(conn, operator_ids))


async def _read_terms(
    conn: asyncpg.Pool | asyncpg.Connection, operator_ids: set[str]
) -> dict[str, OperatorTerms]:
    ids = list(operator_ids)
    rows = await conn.fetch("SELECT * FROM operators WHERE id = ANY($1)", ids)
    sets: dict[str, dict[str, ConditionSet]] = {r["id"]: {} for r in rows}
    for c in await conn.fetch("SELECT * FROM operator_conditions WHERE operator_id = ANY($1)", ids):
        sets[c["operator_id"]][c["product_id"]] = ConditionSet(**{f: c[f] for f in _FIELDS})
    terms = {r["id"]: OperatorTerms(r, sets[r["id"]]) for r in rows}
    for operator_id in sorted(operator_ids - terms.keys()):
        raise NotFound.of("operator", operator_id)
    return terms


async def get_conditions(pool: asyncpg.Pool, operator_id: str) -> OperatorConditions:
    """Return the conditions an operator has set."""
    await operator_terms(pool, {operator_id})
    rows = await pool.fetch(
        "SELECT * FROM operator_conditions WHERE operator_id = $1 ORDER BY product_id", operator_id
    )
    sets = {r["product_id"]: ConditionSet(**{f: r[f] for f in _FIELDS}) for r in rows}
    return OperatorConditions(
        all_products=sets.pop(ALL_PRODUCTS, ConditionSet()),
        products=sets,
    )


_UPSERT = f"""
INSERT INTO operator_conditions (operator_id, product_id, {", ".join(_FIELDS)})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (operator_id, product_id) DO UPDATE SET
    {", ".join(f"{f} = EXCLUDED.{f}" for f in _FIELDS)}, updated_at = now()
"""


async def replace_conditions(
    pool: asyncpg.Pool, operator_id: str, document: OperatorConditions
) -> OperatorConditions:
    """Make `document` the operator's conditions (every earlier setting replaced)."""
    await operator_terms(pool, {operator_id})
    rows = [(ALL_PRODUCTS, document.all_products)] + [
        (product_key(operator_id, p), s) for p, s in sorted(document.products.items())
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM operator_conditions WHERE operator_id = $1", operator_id)
        await conn.executemany(
            _UPSERT,
            [(operator_id, key, *(getattr(s, f) for f in _FIELDS)) for key, s in rows],
        )
    return await get_conditions(pool, operator_id)


async def set_conditions(
    pool: asyncpg.Pool, operator_id: str, product_id: str | None, changes: ConditionSet
) -> OperatorConditions:
    """Change some fields of one product's (or all products') conditions; keep the rest."""
    await operator_terms(pool, {operator_id})
    key = product_key(operator_id, product_id) if product_id else ALL_PRODUCTS
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM operator_conditions WHERE operator_id = $1 AND product_id = $2 "
            "FOR UPDATE",
            operator_id,
            key,
        )
        merged = {f: row[f] for f in _FIELDS} if row is not None else {}
        merged |= changes.model_dump(exclude_none=True)
        await conn.execute(_UPSERT, operator_id, key, *(merged.get(f) for f in _FIELDS))
    return await get_conditions(pool, operator_id)
