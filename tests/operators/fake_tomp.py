"""A fake TOMP-API 1.6.1 back-end served by aiohttp: it keeps bookings and records every call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TRANSITIONS = {"COMMIT": "CONFIRMED", "DENY": "RELEASED", "CANCEL": "CANCELLED"}


@dataclass
class FakeTomp:
    """Behaviour knobs and the calls seen."""

    refuse_reserve: bool = False
    hang_on: set[str] = field(default_factory=set)
    hang_s: float = 5.0
    calls: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)
    bookings: dict[str, str] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> web.Application:
        """Return the aiohttp application of the back-end."""
        app = web.Application()
        app.router.add_post("/bookings", self.post_booking)
        app.router.add_post("/bookings/{id}/events", self.post_event)
        return app

    async def post_booking(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        self.calls.append(("POST", "/bookings", body, key))
        if request.headers.get("Api-Version") != "1.6":
            return web.json_response({"errorcode": 400}, status=400)
        if self.refuse_reserve:
            return web.json_response({"title": "no seats"}, status=409)
        if key in self.by_key:
            return web.json_response(self.by_key[key], status=201)
        booking_id = f"tomp-{len(self.bookings) + 1}"
        self.bookings[booking_id] = "PENDING"
        answer = {"id": booking_id, "state": "PENDING"}
        if key:
            self.by_key[key] = answer
        return web.json_response(answer, status=201)

    async def post_event(self, request: web.Request) -> web.Response:
        booking_id = request.match_info["id"]
        body = await request.json()
        self.calls.append(
            ("POST", f"/bookings/{booking_id}/events", body, request.headers.get("Idempotency-Key"))
        )
        operation = body["operation"]
        if operation in self.hang_on:
            await asyncio.sleep(self.hang_s)
        if booking_id not in self.bookings:
            return web.json_response({"title": "unknown booking"}, status=404)
        self.bookings[booking_id] = TRANSITIONS[operation]
        return web.json_response({"id": booking_id, "state": self.bookings[booking_id]})

    def operations(self) -> list[str]:
        """Return the events received, in order."""
        return [c[2]["operation"] for c in self.calls if c[1].endswith("/events")]
