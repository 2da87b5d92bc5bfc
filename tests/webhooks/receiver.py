"""A webhook receiver as the README tells one to write: verify, reject stale, dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    """Records every request; `up()` says whether it answers 204 or 503."""

    secret: str = ""
    up: Callable[[], bool] = lambda: True
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: Each event once, by `webhook-id`, in the order first received.
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: int = 0

    def app(self) -> web.Application:
        """Return the receiver's application."""
        app = web.Application()
        app.router.add_post("/hook", self.post)
        return app

    async def post(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.requests.append({"headers": headers, "body": body})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.up():
            return web.Response(status=503)
        if self.secret:
            try:
                Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.rejected += 1
                return web.Response(status=400)
        msg_id = request.headers["webhook-id"]
        self.seen.setdefault(msg_id, orjson.loads(body))
        return web.Response(status=204)


def now() -> datetime:
    """Return the time now (UTC)."""
    return datetime.now(UTC)
