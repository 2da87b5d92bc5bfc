"""An operator's back-end tells the gateway what it decided: TOMP's COMMIT, DENY, CANCEL."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from gateway.api import api, require_own_operator
from gateway.appkeys import sales_key
from sales.operator_events import apply_operator_event
from sales.schemas import Booking, Strict


class OperatorEventBody(Strict):
    """A TOMP booking event from the operator's back-end."""

    operation: Literal["COMMIT", "DENY", "CANCEL"] = Field(
        description="COMMIT or DENY a conditional confirmation; CANCEL a confirmed leg"
    )


@api.route(
    "POST",
    "/v1/operators/{id}/bookings/{leg}/events",
    summary="The operator's back-end commits, denies or cancels one of its legs",
    tag="operators",
    roles=("operator",),
    body=OperatorEventBody,
    response=Booking,
    errors=("not_found", "operator_event_refused", "booking_busy", "no_signing_key"),
)
async def post_operator_event(request: web.Request, body: OperatorEventBody) -> Booking:
    """Apply the event to the leg (the gateway's leg id, or the operator's own booking id).

    COMMIT: the booking becomes CONFIRMED with its tickets once every leg is. DENY: it is
    REJECTED and its other legs compensated. CANCEL: the booking is cancelled with a full
    refund, and the app hears it from the `booking.cancelled` webhook. A repeat changes
    nothing.
    """
    operator_id = request.match_info["id"]
    require_own_operator(request, operator_id)
    return await apply_operator_event(
        request.app[sales_key], operator_id, request.match_info["leg"], body.operation
    )
