"""A fake TOMP-API 1.6.1 back-end served by aiohttp: it keeps bookings and records every call.

Knobs: refuse reservations or events, hang on an operation for `hang_s`, answer a commit
with `CONDITIONAL_CONFIRMED`, or hold an operation at a gate (`gate_before`:
not applied yet; `gate_after`: applied, answer not sent) until the test opens it,
so a test can kill the gateway at an exact step. Events are idempotent per
`Idempotency-Key`, as the adapter contract asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TRANSITIONS = {"COMMIT": "CONFIRMED", "DENY": "RELEASED", "CANCEL": "CANCELLED"}


@dataclass
class FakeTomp:
    """Behaviour knobs and the calls seen."""

    refuse_reserve: bool = False
    #: Events (COMMIT, DENY, CANCEL) refused with a 409, as a back-end that says no.
    refuse: set[str] = field(default_factory=set)
    hang_on: set[str] = field(default_factory=set)
    hang_s: float = 5.0
    conditional: bool = False
    gate_before: set[str] = field(default_factory=set)
    gate_after: set[str] = field(default_factory=set)
    #: Requests held at a gate when it opens are dropped unapplied (the caller died).
    drop_held: bool = False
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set each time an event (COMMIT, DENY, CANCEL) is applied.
    acted: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)
    bookings: dict[str, str] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Runs before a reservation is answered (a test restarts PostgreSQL there).
    on_reserve: Callable[[], Awaitable[None]] | None = None
    #: The Authorization header of every reservation.
    authorizations: list[str | None] = field(default_factory=list)

    def app(self) -> web.Application:
        """Return the aiohttp application of the back-end."""
        app = web.Application()
        app.router.add_post("/bookings", self.post_booking)
        app.router.add_get("/bookings/{id}", self.get_booking)
        app.router.add_post("/bookings/{id}/events", self.post_event)
        return app

    async def post_booking(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        self.calls.append(("POST", "/bookings", body, key))
        self.authorizations.append(request.headers.get("Authorization"))
        if request.headers.get("Api-Version") != "1.6":
            return web.json_response({"errorcode": 400}, status=400)
        if "reserve" in self.hang_on:
            await asyncio.sleep(self.hang_s)
        if "reserve" in self.gate_before and not await self._pass_gate():
            return web.json_response({"title": "gone"}, status=503)
        if self.refuse_reserve:
            return web.json_response({"title": "no seats"}, status=409)
        if key in self.by_key:
            return web.json_response(self.by_key[key], status=201)
        booking_id = f"tomp-{len(self.bookings) + 1}"
        self.bookings[booking_id] = "PENDING"
        answer = {"id": booking_id, "state": "PENDING"}
        if key:
            self.by_key[key] = answer
        if self.on_reserve is not None:
            await self.on_reserve()
        return web.json_response(answer, status=201)

    async def get_booking(self, request: web.Request) -> web.Response:
        booking_id = request.match_info["id"]
        self.calls.append(("GET", f"/bookings/{booking_id}", {}, None))
        if booking_id not in self.bookings:
            return web.json_response({"title": "unknown booking"}, status=404)
        return web.json_response({"id": booking_id, "state": self.bookings[booking_id]})

    async def post_event(self, request: web.Request) -> web.Response:
        booking_id = request.match_info["id"]
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        self.calls.append(("POST", f"/bookings/{booking_id}/events", body, key))
        operation = body["operation"]
        if operation in self.hang_on:
            await asyncio.sleep(self.hang_s)
        if operation in self.gate_before and not await self._pass_gate():
            return web.json_response({"title": "gone"}, status=503)
        if operation in self.refuse:
            return web.json_response({"title": f"{operation} refused"}, status=409)
        if key in self.by_key:
            return web.json_response(self.by_key[key])
        if booking_id not in self.bookings:
            return web.json_response({"title": "unknown booking"}, status=404)
        state = TRANSITIONS[operation]
        if operation == "COMMIT" and self.conditional:
            state = "CONDITIONAL_CONFIRMED"
        self.bookings[booking_id] = state
        self.acted.set()
        answer = {"id": booking_id, "state": state}
        if key:
            self.by_key[key] = answer
        if operation in self.gate_after:
            await self._pass_gate()
        return web.json_response(answer)

    async def _pass_gate(self) -> bool:
        """Hold the request until the gate opens; False when it must then be dropped."""
        self.held.set()
        await self.gate.wait()
        return not self.drop_held

    def decide(self, booking_id: str, state: str) -> None:
        """Settle a conditional commit the way an operator's back office would."""
        self.bookings[booking_id] = state

    def operations(self) -> list[str]:
        """Return the events received, in order."""
        return [c[2]["operation"] for c in self.calls if c[1].endswith("/events")]
