"""Hosted references: the gateway's own leg id is the operator's reference."""

from __future__ import annotations

from operators.adapter import LegOrder


def operator_ref(order: LegOrder) -> str:
    """Return the reference under which the hosted operator knows a leg."""
    return f"hosted:{order.leg_id}"
