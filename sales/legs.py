"""Calling every leg's operator: one guarded adapter call per leg, all legs at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from operators.adapter import LegOrder, OperatorAdapter, OperatorError, OperatorResult
from sales.adapters import Adapters, GuardedAdapter


@dataclass(frozen=True, slots=True)
class Sales:
    """What booking needs: database, adapters, hold time, the secret of the signing keys."""

    pool: asyncpg.Pool
    adapters: Adapters
    hold: timedelta = timedelta(minutes=10)
    signing_secret: bytes | None = None
    #: Where the gateway is reached from outside: tickets name their status list under it.
    public_url: str = "http://127.0.0.1:8080"


def leg_order(leg: asyncpg.Record) -> LegOrder:
    """Return what an operator is told about a booking leg."""
    d = leg["detail"]
    return LegOrder(
        leg_id=str(leg["id"]),
        booking_id=str(leg["booking_id"]),
        operator_id=leg["operator_id"],
        product_id=d.get("product_id"),
        rider_categories=tuple(d.get("rider_categories", ())),
        price_minor=leg["price_minor"],
        currency=leg["currency"],
        valid_from=datetime.fromisoformat(d["valid_from"]),
        valid_until=datetime.fromisoformat(d["valid_until"]),
        trip_id=d.get("trip_id"),
        from_stop_id=d.get("from_stop_id"),
        to_stop_id=d.get("to_stop_id"),
    )


Call = Callable[[OperatorAdapter], Awaitable[OperatorResult]]


async def each_leg(
    sales: Sales,
    conn: asyncpg.Connection,
    legs: list[asyncpg.Record],
    make: Callable[[asyncpg.Record, LegOrder], Call],
) -> list[OperatorResult | OperatorError]:
    """Call every leg's operator at once; a failure is returned, not raised."""
    # Adapters are looked up on the caller's connection, one after the other: taking a
    # second pooled connection while holding one would starve the pool under load.
    adapters = [await sales.adapters.get(conn, leg["operator_id"]) for leg in legs]

    async def one(adapter: GuardedAdapter, leg: asyncpg.Record) -> OperatorResult | OperatorError:
        try:
            return await adapter.call(make(leg, leg_order(leg)), idempotent=True)
        except OperatorError as exc:
            return exc

    return list(await asyncio.gather(*(one(a, leg) for a, leg in zip(adapters, legs, strict=True))))


def reserve_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that reserves a leg (keyed for idempotency)."""
    return lambda a: a.reserve(order, f"{order.leg_id}:reserve")


def confirm_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that confirms a leg (keyed for idempotency)."""
    return lambda a: a.confirm(order, leg["operator_ref"], f"{order.leg_id}:confirm")


def release_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that releases a leg (keyed for idempotency)."""
    return lambda a: a.release(order, leg["operator_ref"], f"{order.leg_id}:release")


def cancel_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that cancels a leg (keyed for idempotency)."""
    return lambda a: a.cancel(order, leg["operator_ref"], f"{order.leg_id}:cancel")
