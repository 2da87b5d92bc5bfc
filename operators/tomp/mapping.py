"""Gateway legs <-> TOMP-API 1.6.1 `bookingRequest` and `booking` documents."""

from __future__ import annotations

import logging
from typing import Any

from gtfs.tables import original_id
from operators.adapter import LegOrder, OperatorRefused

log = logging.getLogger(__name__)

#: TOMP booking states and what they mean for the gateway's leg.
ACCEPTED_AFTER = {
    "reserve": {"PENDING", "CONDITIONAL_CONFIRMED", "CONFIRMED"},
    "COMMIT": {"CONFIRMED", "CONDITIONAL_CONFIRMED"},
    "DENY": {"RELEASED", "REJECTED", "CANCELLED", "EXPIRED"},
    "CANCEL": {"CANCELLED", "RELEASED"},
    "status": {
        "PENDING",
        "CONDITIONAL_CONFIRMED",
        "CONFIRMED",
        "RELEASED",
        "REJECTED",
        "CANCELLED",
        "EXPIRED",
    },
}


def booking_request(order: LegOrder) -> dict[str, Any]:
    """Return the TOMP `bookingRequest` for a leg (ids in the operator's own namespace)."""
    extra: dict[str, Any] = {
        "gatewayBookingId": order.booking_id,
        "riderCategories": [original_id(c) if c else None for c in order.rider_categories],
        "price": {"amount": order.price_minor, "currencyCode": order.currency, "minor": True},
        "validFrom": order.valid_from.isoformat(),
        "validUntil": order.valid_until.isoformat(),
    }
    if order.product_id:
        extra["productId"] = original_id(order.product_id)
    if order.trip_id:
        extra["tripId"] = original_id(order.trip_id)
    request: dict[str, Any] = {"id": order.leg_id, "extraInfo": extra}
    for field, stop in (("from", order.from_stop_id), ("to", order.to_stop_id)):
        if stop:
            request[field] = {
                "stopReference": [
                    {"referenceType": "GTFS_STOP_ID", "stopReference": original_id(stop)}
                ]
            }
    request["departureTime"] = order.valid_from.isoformat()
    return request


def state_of(document: Any, step: str) -> tuple[str, str]:
    """Return (operator booking id, state) of a TOMP `booking`; refuse states `step` forbids."""
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise OperatorRefused(
            f"TOMP {step}: the answer is not a booking with an id ({OperatorRefused.reason})"
        )
    state = document.get("state")
    if state not in ACCEPTED_AFTER[step]:
        # The id and state are the back-end's words: logged, never in the error the app reads.
        log.warning(
            "TOMP back-end answered an odd booking",
            extra={"step": step, "operator_ref": document["id"][:100], "state": str(state)[:100]},
        )
        raise OperatorRefused(
            f"TOMP {step}: the back-end answered a booking state {step} does not allow "
            f"({OperatorRefused.reason})"
        )
    return document["id"], str(state)
