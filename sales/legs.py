"""Calling every leg's operator: one guarded adapter call per leg, all legs at once.

No database connection is held while an operator is called: the adapters are
looked up first, each on a connection taken from the pool and given back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from operators.adapter import (
    LegOrder,
    OperatorAdapter,
    OperatorError,
    OperatorRefused,
    OperatorResult,
    StatusAdapter,
)
from sales.adapters import Adapters, GuardedAdapter
from sales.cache import Cache


@dataclass(frozen=True, slots=True)
class Sales:
    """What booking needs: database, adapters, hold time, the secret of the signing keys.

    `lease` is how long one round of operator calls may take (attempts x timeout and
    some margin): a booking whose lease has passed is taken over by the recovery task.
    """

    pool: asyncpg.Pool
    adapters: Adapters
    hold: timedelta = timedelta(minutes=10)
    signing_secret: bytes | None = None
    #: Where the gateway is reached from outside: tickets name their status list under it.
    public_url: str = "http://127.0.0.1:8080"
    lease: timedelta = timedelta(seconds=30)
    #: How often an operator is asked again about a CONDITIONAL_CONFIRMED leg.
    recheck: timedelta = timedelta(seconds=30)
    #: Operators and signing keys read once, not per purchase (answers only when kept live).
    cache: Cache = field(default_factory=Cache)


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
Answer = OperatorResult | OperatorError


async def each_leg(
    sales: Sales,
    legs: list[asyncpg.Record],
    make: Callable[[asyncpg.Record, LegOrder], Call],
    then: Callable[[asyncpg.Record, Answer], Awaitable[None]] | None = None,
) -> list[Answer]:
    """Call every leg's operator at once; a failure is returned, not raised.

    `then` runs as soon as each leg's answer arrives (to record it before the others answer).
    """
    adapters = [
        await sales.adapters.get(sales.pool, leg["operator_id"], sales.cache) for leg in legs
    ]

    async def one(adapter: GuardedAdapter, leg: asyncpg.Record) -> Answer:
        answer: Answer
        try:
            answer = await adapter.call(make(leg, leg_order(leg)), idempotent=True)
        except OperatorError as exc:
            answer = exc
        if then is not None:
            await then(leg, answer)
        return answer

    return list(await asyncio.gather(*(one(a, leg) for a, leg in zip(adapters, legs, strict=True))))


def reserve_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that reserves a leg (keyed for idempotency)."""
    return lambda a: a.reserve(order, f"{order.leg_id}:reserve")


def confirm_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that confirms a leg (keyed for idempotency)."""
    return lambda a: a.confirm(order, leg["operator_ref"], f"{order.leg_id}:confirm")


def release_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that releases a leg (keyed for idempotency).

    A leg whose reservation was never answered has no operator reference yet: the
    reservation is asked again with its own key (the operator answers it once), then released.
    """

    async def release(a: OperatorAdapter) -> OperatorResult:
        ref = leg["operator_ref"]
        if ref is None:
            ref = (await a.reserve(order, f"{order.leg_id}:reserve")).operator_ref
        return await a.release(order, ref, f"{order.leg_id}:release")

    return release


def cancel_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the adapter call that cancels a leg (keyed for idempotency)."""
    return lambda a: a.cancel(order, leg["operator_ref"], f"{order.leg_id}:cancel")


def status_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the call that asks an operator where a leg stands (no side effects)."""

    async def ask(a: OperatorAdapter) -> OperatorResult:
        if not isinstance(a, StatusAdapter):
            # A refusal, not a failure: the operator's breaker must not count it.
            raise OperatorRefused(f"{order.operator_id}: its adapter cannot be asked")
        return await a.status(order, leg["operator_ref"])

    return ask


#: The call a leg is owed in each state.
CALLS: dict[str, Callable[[asyncpg.Record, LegOrder], Call]] = {
    "RESERVING": reserve_call,
    "CONFIRMING": confirm_call,
    "RELEASING": release_call,
    "CANCELLING": cancel_call,
    "CONDITIONAL_CONFIRMED": status_call,
}


def owed_call(leg: asyncpg.Record, order: LegOrder) -> Call:
    """Return the call a leg is owed in its current state."""
    return CALLS[leg["status"]](leg, order)
