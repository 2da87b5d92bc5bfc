"""The hosted adapter: reservations, capacity and tickets all live in the gateway's database.

There is no operator back-end to call: the gateway's booking transaction holds
seats (database constraints stop overselling) and the gateway signs the tickets
with the operator's key. Every call is therefore local, idempotent and final.
"""

from __future__ import annotations

from operators.adapter import AdapterSpec, LegOrder, OperatorResult
from operators.hosted import SPEC
from operators.hosted.mapping import operator_ref


class HostedAdapter:
    """Sells for an operator without a back-end."""

    spec: AdapterSpec = SPEC

    def __init__(self, operator_id: str) -> None:
        self.operator_id = operator_id

    async def reserve(self, order: LegOrder, idempotency_key: str) -> OperatorResult:
        """Hold the leg (seats are held by the gateway's own transaction)."""
        return OperatorResult(operator_ref(order), "PENDING")

    async def confirm(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Commit the leg."""
        return OperatorResult(operator_ref, "CONFIRMED")

    async def release(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Drop the reservation."""
        return OperatorResult(operator_ref, "RELEASED")

    async def cancel(
        self, order: LegOrder, operator_ref: str, idempotency_key: str
    ) -> OperatorResult:
        """Undo the sale."""
        return OperatorResult(operator_ref, "CANCELLED")
