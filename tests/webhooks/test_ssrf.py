"""Deliveries go to public addresses only: checked when resolved, before any connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from gateway.urlguard import PublicResolver, public_only_trace
from gateway.webhooks import http_sender
from tests.webhooks.receiver import Receiver, now
from webhooks import endpoints
from webhooks.dispatch import Schedule, dispatch_round
from webhooks.errors import DeliveryFailed

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def public_session() -> AsyncIterator[tuple[aiohttp.ClientSession, list[str]]]:
    """The session the gateway delivers with, plus a record of every connection it made."""
    made: list[str] = []

    async def connected(*_: object) -> None:
        made.append("connection")

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(connected)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=PublicResolver()),
        trace_configs=[public_only_trace(), trace],
    ) as session:
        yield session, made


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
    ],
)
async def test_a_private_or_metadata_address_is_refused_before_connecting(
    public_session: tuple[aiohttp.ClientSession, list[str]], url: str
) -> None:
    session, made = public_session
    with pytest.raises(DeliveryFailed, match=r"not a public address|non-public"):
        await http_sender(session, 5.0)(url, {}, b"{}")
    assert made == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_by_address_or_by_name_is_refused_and_never_reached(
    public_session: tuple[aiohttp.ClientSession, list[str]],
    aiohttp_server: ServerFactory,
    host: str,
) -> None:
    session, made = public_session
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    url = f"http://{host}:{server.port}/hook"
    with pytest.raises(DeliveryFailed, match=r"not a public address|non-public"):
        await http_sender(session, 5.0)(url, {}, b"{}")
    assert made == []
    assert receiver.requests == []


async def test_an_endpoint_that_now_resolves_privately_is_refused_at_delivery(
    db: asyncpg.Pool,
    public_session: tuple[aiohttp.ClientSession, list[str]],
    aiohttp_server: ServerFactory,
) -> None:
    """Registered when it was public (DNS rebinding since): refused again at delivery."""
    session, made = public_session
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    await endpoints.create_endpoint(
        db, "operator:op", f"http://localhost:{server.port}/hook", [], None
    )
    await db.execute(
        "SELECT outbox_write('feed', 'op', 'feed.current', NULL, ARRAY['operator:op'], '{}')"
    )
    assert await dispatch_round(db, http_sender(session, 5.0), now(), Schedule()) == 0
    row = await db.fetchrow("SELECT * FROM webhook_deliveries")
    assert row["delivered_at"] is None
    assert "non-public" in row["last_error"]
    assert receiver.requests == []
    assert made == []
