"""Polling outlives a feed it cannot apply: the failure is counted, the loop goes on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.realtime.poller import Poller, PollStatus


async def test_an_unexpected_error_is_a_counted_failure(
    aiohttp_server: Callable[..., Awaitable[TestServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=b"\x0a\x00")

    app = web.Application()
    app.router.add_get("/feed.pb", feed)
    server = await aiohttp_server(app)

    async def ingest(operator_id: str, kind: str, data: bytes) -> None:
        raise RuntimeError("a bug in applying the feed")

    status = PollStatus(url=str(server.make_url("/feed.pb")), interval_s=5)
    async with aiohttp.ClientSession() as http:
        poller = Poller(None, http, ingest, lease=None)  # type: ignore[arg-type]
        await poller.poll_once("op", "trip-updates", status)
        await poller.poll_once("op", "trip-updates", status)
    assert status.failures == 2
    assert status.last_error == "RuntimeError: the feed could not be applied"
    assert "applying a polled realtime feed failed" in caplog.text
