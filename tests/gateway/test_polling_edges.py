"""Polling's edges: no redirects, IP literals and IPv6 forms of IPv4 checked, keys kept out of logs.

And an operator back-end's error body stays in the gateway's log, out of the MaaS app's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.problems import Problem
from gateway.realtime.poller import Poller, PollStatus, redact_url
from gateway.urlguard import PublicResolver, check_public_url, is_public_address, public_only_trace
from tests.conftest import bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

ServerFactory = Callable[..., Awaitable[TestServer]]
MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the metadata service
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # the local-use NAT64 prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "::1",
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"])
def test_ipv6_forms_of_public_addresses_stay_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::ffff:7f00:1]"])
async def test_a_url_naming_loopback_through_ipv6_is_refused(host: str) -> None:
    with pytest.raises(Problem) as err:
        await check_public_url(f"http://{host}/feed.pb", "alerts_url", allow_private=False)
    assert err.value.code == "url_not_allowed"


def _public_session() -> aiohttp.ClientSession:
    """The session polling uses in production (no MAAS_ALLOW_PRIVATE_URLS)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=PublicResolver()),
        trace_configs=[public_only_trace()],
    )


async def _server(aiohttp_server: ServerFactory, hits: list[str], redirect_to: str = "") -> str:
    async def feed(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        if redirect_to:
            raise web.HTTPFound(redirect_to)
        return web.Response(status=500, text="internal")

    app = web.Application()
    app.router.add_get("/{name}", feed)
    server = await aiohttp_server(app)
    return str(server.make_url(""))


async def test_an_ip_literal_url_is_checked_like_a_resolved_name(
    aiohttp_server: ServerFactory,
) -> None:
    hits: list[str] = []
    url = await _server(aiohttp_server, hits) + "/feed.pb"
    assert url.startswith("http://127.0.0.1:")
    async with _public_session() as public:
        status = PollStatus(url=url, interval_s=5)
        await Poller(None, public, None, None).poll_once("op", "alerts", status)  # type: ignore[arg-type]
    assert hits == []
    assert status.failures == 1
    assert "not a public address" in (status.last_error or "")


async def test_a_redirect_is_not_followed(aiohttp_server: ServerFactory) -> None:
    inner: list[str] = []
    target = await _server(aiohttp_server, inner) + "/latest/meta-data"
    outer: list[str] = []
    url = await _server(aiohttp_server, outer, redirect_to=target) + "/feed.pb"
    # A plain session (as with MAAS_ALLOW_PRIVATE_URLS): only the refusal to follow protects.
    async with aiohttp.ClientSession() as http:
        status = PollStatus(url=url, interval_s=5)
        await Poller(None, http, None, None).poll_once("op", "alerts", status)  # type: ignore[arg-type]
    assert outer == ["/feed.pb"]
    assert inner == []
    assert status.last_status == 302
    assert "redirects are not followed" in (status.last_error or "")


async def test_a_poll_url_is_logged_without_its_query(
    aiohttp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hits: list[str] = []
    url = await _server(aiohttp_server, hits) + "/feed.pb?api_key=s3cr3t-key"
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as http:
        status = PollStatus(url=url, interval_s=5)
        await Poller(None, http, None, None).poll_once("op", "alerts", status)  # type: ignore[arg-type]
    assert hits == ["/feed.pb?api_key=s3cr3t-key"]
    assert status.failures == 1
    logged = [r for r in caplog.records if r.getMessage() == "polling a realtime feed failed"]
    assert logged
    ours = [r for r in caplog.records if r.name.startswith("gateway")]
    assert all("s3cr3t" not in str(r.__dict__) for r in ours)
    assert "s3cr3t" not in (status.last_error or "")


def test_redact_url_keeps_what_names_the_feed() -> None:
    assert redact_url("https://u:p@feeds.example:8443/rt/tu.pb?key=1#x") == (
        "https://feeds.example:8443/rt/tu.pb?..."
    )
    assert redact_url("http://[2001:db8::1]/a") == "http://[2001:db8::1]/a"


async def _book_at(
    fake: FakeTomp,
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    aiohttp_server: ServerFactory,
) -> tuple[dict[str, Any], str]:
    """Book a day ticket of an operator whose back-end is `fake`: the answer, and the GET's."""
    server = await aiohttp_server(fake.app())
    remote = await operator_with_demo_fares(
        db, sales_channel="tomp", tomp_url=str(server.make_url(""))
    )
    key = await make_key("maas")
    created = await offer(client, key, day_ticket_offer(remote))
    _, booking = await book(client, key, [created["id"]])
    shown = await (await client.get(f"/v1/bookings/{booking['id']}", headers=bearer(key))).text()
    return booking, shown


class _ChattyTomp(FakeTomp):
    """A back-end whose refusals carry internals the MaaS app must not see."""

    async def post_booking(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(
            {"title": "no seats", "trace": "db-primary.internal:5432 deadlock"}, status=409
        )


async def test_an_operators_error_body_is_logged_not_shown_to_the_app(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    aiohttp_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    booking, shown = await _book_at(_ChattyTomp(), client, db, make_key, aiohttp_server)
    for answer in (str(booking), shown):
        assert "deadlock" not in answer
        assert "no seats" not in answer
    assert booking["status"] == "REJECTED"
    assert "operator_refused" in booking["reason"]
    refusals = [r for r in caplog.records if r.getMessage() == "TOMP back-end refused a call"]
    assert "deadlock" in refusals[0].__dict__["body"]


class _OddStateTomp(FakeTomp):
    """A back-end that answers a reservation with a booking in a state it must not be in."""

    async def post_booking(self, request: web.Request) -> web.Response:
        await request.read()
        answer = {"id": "ref db-primary.internal:5432", "state": "FAILED: deadlock detected"}
        return web.json_response(answer, status=201)


async def test_a_booking_state_an_operator_answers_is_logged_not_shown_to_the_app(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    aiohttp_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    booking, shown = await _book_at(_OddStateTomp(), client, db, make_key, aiohttp_server)
    assert booking["status"] == "REJECTED"
    assert "operator_refused" in booking["reason"]
    for answer in (str(booking), shown):
        assert "deadlock" not in answer
        assert "db-primary" not in answer
    odd = [r for r in caplog.records if r.getMessage() == "TOMP back-end answered an odd booking"]
    assert "deadlock" in odd[0].__dict__["state"]


async def test_a_tomp_back_end_redirect_is_not_followed(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    inner: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        inner.append(request.path)
        return web.json_response({"id": "tomp-1", "state": "PENDING"}, status=201)

    target = web.Application()
    target.router.add_route("*", "/{tail:.*}", elsewhere)
    inside = str((await aiohttp_server(target)).make_url("/latest/meta-data"))

    async def redirect(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect(inside)  # 307: a client that follows posts again

    back_end = web.Application()
    back_end.router.add_post("/bookings", redirect)
    server = await aiohttp_server(back_end)
    remote = await operator_with_demo_fares(
        db, sales_channel="tomp", tomp_url=str(server.make_url(""))
    )
    key = await make_key("maas")
    created = await offer(client, key, day_ticket_offer(remote))
    _, booking = await book(client, key, [created["id"]])
    assert inner == []
    assert booking["status"] == "REJECTED"
    assert "operator_refused" in booking["reason"]
