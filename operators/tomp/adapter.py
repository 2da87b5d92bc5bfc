"""The TOMP adapter: two-phase booking with an operator's TOMP-API back-end.

reserve = `POST /bookings` (PENDING); confirm = event `COMMIT`; release = event
`DENY`; cancel = event `CANCEL`; status = `GET /bookings/{id}` (to settle a
`CONDITIONAL_CONFIRMED` commit). Every call carries the gateway's idempotency key.
"""

from __future__ import annotations

from operators.adapter import AdapterSpec, LegOrder, OperatorResult
from operators.tomp import SPEC
from operators.tomp.client import TompClient
from operators.tomp.mapping import booking_request, state_of


class TompAdapter:
    """Sells through an operator's TOMP-API 1.6.1 back-end."""

    spec: AdapterSpec = SPEC

    def __init__(self, operator_id: str, client: TompClient) -> None:
        self.operator_id = operator_id
        self.client = client

    async def reserve(self, order: LegOrder, idempotency_key: str) -> OperatorResult:
        """Create a PENDING booking at the operator."""
        answer = await self.client.post("/bookings", booking_request(order), idempotency_key)
        ref, state = state_of(answer, "reserve")
        return OperatorResult(ref, state)

    async def confirm(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Send COMMIT."""
        return await self._event(operator_ref, "COMMIT", idempotency_key)

    async def release(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Send DENY for a booking that was never committed."""
        return await self._event(operator_ref, "DENY", idempotency_key)

    async def cancel(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Send CANCEL for a committed booking."""
        return await self._event(operator_ref, "CANCEL", idempotency_key)

    async def status(self, order: LegOrder, operator_ref: str) -> OperatorResult:
        """Ask the back-end where the booking stands (`GET /bookings/{id}`)."""
        answer = await self.client.get(f"/bookings/{operator_ref}")
        ref, state = state_of(answer, "status")
        return OperatorResult(ref, state)

    async def _event(
        self, operator_ref: str, operation: str, idempotency_key: str
    ) -> OperatorResult:
        answer = await self.client.post(
            f"/bookings/{operator_ref}/events",
            {"operation": operation, "origin": "MP"},
            idempotency_key,
        )
        ref, state = state_of(answer, operation)
        return OperatorResult(ref, state)
