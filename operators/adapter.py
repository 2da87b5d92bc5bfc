"""The contract between the gateway and an operator's sales system.

Every call an adapter answers moves money (`reserve`, `confirm`, `release`,
`cancel`; what has no side effects, such as pricing, is the fare engine's): each
takes an idempotency key, and the adapter must make a repeated call with the
same key return the first call's result instead of acting twice. Kept apart as
pretix keeps `checkout_prepare` apart from `payment_perform`.

Two-phase booking: `reserve` holds a leg (the operator's PENDING); `confirm`
commits it; `release` drops a reservation that was never confirmed; `cancel`
undoes a confirmed leg (used both for a traveller's cancellation and to
compensate when another operator of the same journey refuses).

A back-end may answer a commit with `CONDITIONAL_CONFIRMED` (the result's
`state`): the sale is not yet made and no ticket is issued until the operator
commits or denies; an adapter that implements `StatusAdapter` is asked again.

Adapters raise only the `OperatorError` family; the gateway maps them to
problems and decides what to compensate. They receive the shared
`aiohttp.ClientSession`; they never open their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """What an adapter is: its id (equal to its folder name) and a name for people."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class LegOrder:
    """One leg of a booking as sent to its operator: what, for whom, when, at what price."""

    leg_id: str
    booking_id: str
    operator_id: str
    product_id: str | None
    rider_categories: tuple[str | None, ...]
    price_minor: int
    currency: str
    valid_from: datetime
    valid_until: datetime
    trip_id: str | None = None
    from_stop_id: str | None = None
    to_stop_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OperatorResult:
    """An operator's answer: its own reference for the leg and its state."""

    operator_ref: str
    state: str


class OperatorError(Exception):
    """An operator could not do what was asked.

    Its text reaches the MaaS app: it says what failed in the gateway's words, with
    `reason`, never what the operator's back-end answered (that is logged).
    """

    reason = "operator_error"


class OperatorUnavailable(OperatorError):
    """The operator did not answer (timeout, connection refused, 5xx, open circuit)."""

    reason = "operator_unavailable"


class OperatorRefused(OperatorError):
    """The operator answered and said no (sold out, unknown product, not cancellable)."""

    reason = "operator_refused"


class OperatorAdapter(Protocol):
    """What every adapter implements; see the module docstring for the rules."""

    spec: AdapterSpec

    async def reserve(self, order: LegOrder, idempotency_key: str) -> OperatorResult:
        """Hold the leg; the operator's booking is PENDING until `confirm` or `release`."""
        ...

    async def confirm(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Commit a reserved leg; afterwards it is sold."""
        ...

    async def release(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Drop a reservation that was never confirmed."""
        ...

    async def cancel(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Undo a confirmed leg."""
        ...


@runtime_checkable
class StatusAdapter(Protocol):
    """An adapter that can say where a leg stands at its operator (TOMP `GET /bookings/{id}`).

    Used to settle a `CONDITIONAL_CONFIRMED` leg once the operator has decided; it has no
    side effects. Adapters whose operator cannot be asked simply do not implement it.
    """

    async def status(self, order: LegOrder, operator_ref: str) -> OperatorResult:
        """Return the operator's current state of the leg."""
        ...
