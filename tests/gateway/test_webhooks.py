"""Webhook endpoints over HTTP: each party its own, SSRF refused, the event feed, delivery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.appkeys import webhook_listener_key
from gateway.settings import Settings
from gateway.webhooks import LISTEN_APPLICATION_NAME
from tests.conftest import ClientFactory, bearer
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares
from tests.webhooks.receiver import Receiver

MakeKey = Callable[..., Awaitable[str]]
ServerFactory = Callable[..., Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> Client:
    quick = settings.model_copy(update={"webhook_interval_s": 0.05})
    return await aiohttp_client(create_app(quick))


async def _register(client: Client, key: str, url: str, events: list[str] | None = None) -> Any:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    resp = await client.post("/v1/webhooks", json=body, headers=bearer(key))
    return resp.status, await resp.json(content_type=None)


async def test_an_app_registers_sees_and_deletes_only_its_own_endpoints(
    client: Client, make_key: MakeKey
) -> None:
    mine, theirs = await make_key("maas"), await make_key("maas")
    status, created = await _register(client, mine, "http://127.0.0.1:9/hook", ["booking.*"])
    assert status == 201, created
    assert created["secret"].startswith("whsec_")
    path = f"/v1/webhooks/{created['id']}"
    shown = await (await client.get(path, headers=bearer(mine))).json()
    assert "secret" not in shown
    assert shown["events"] == ["booking.*"]
    assert (await client.get(path, headers=bearer(theirs))).status == 404
    listed = await (await client.get("/v1/webhooks", headers=bearer(theirs))).json()
    assert listed["items"] == []
    assert (await client.delete(path, headers=bearer(theirs))).status == 404
    assert (await client.delete(path, headers=bearer(mine))).status == 204
    assert (await client.get(path, headers=bearer(mine))).status == 404


async def test_unknown_fields_and_bad_event_types_are_refused(
    client: Client, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    resp = await client.post(
        "/v1/webhooks", json={"url": "http://x.example/", "secret": "mine"}, headers=bearer(key)
    )
    assert resp.status == 422
    status, body = await _register(client, key, "http://x.example/", ["booking"])
    assert (status, body["code"]) == (422, "validation_failed")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
    ],
)
async def test_a_url_reaching_a_private_address_is_refused_at_registration(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey, url: str
) -> None:
    strict = settings.model_copy(update={"allow_private_urls": False})
    client = await aiohttp_client(create_app(strict))
    status, body = await _register(client, await make_key("maas"), url)
    assert (status, body["code"]) == (422, "url_not_allowed"), body


async def _booked(client: Client, db: asyncpg.Pool, key: str) -> dict[str, Any]:
    operator = await operator_with_demo_fares(db)
    made = await offer(client, key, day_ticket_offer(operator))
    _, booking = await book(client, key, [made["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed: dict[str, Any] = await resp.json()
    assert confirmed["status"] == "CONFIRMED"
    return confirmed


async def test_an_app_gets_its_booking_and_ticket_events_by_webhook_in_order(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    key = await make_key("maas")
    _, created = await _register(client, key, str(server.make_url("/hook")))
    receiver.secret = created["secret"]
    booking = await _booked(client, db, key)
    for _ in range(600):
        if {"booking.confirmed", "ticket.issued"} <= {m["type"] for m in receiver.seen.values()}:
            break
        await asyncio.sleep(0.05)
    types = [m["type"] for m in receiver.seen.values()]
    booking_types = [t for t in types if t.startswith("booking.")]
    assert booking_types == ["booking.pending", "booking.confirming", "booking.confirmed"]
    assert "ticket.issued" in types
    assert receiver.rejected == 0
    # Order holds per object: the ticket's events may overtake the booking's.
    first = next(m for m in receiver.seen.values() if m["type"].startswith("booking."))
    assert first["data"]["object_id"] == booking["id"]


async def test_the_event_feed_shows_each_party_its_own_and_pages_by_after(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    app_key, other_app = await make_key("maas"), await make_key("maas")
    booking = await _booked(client, db, app_key)
    operator_id = booking["legs"][0]["operator_id"]
    operator_key = await make_key("operator", operator_id=operator_id)
    stranger = await make_key("operator", operator_id=await operator_with_demo_fares(db))

    def about_booking(page: dict[str, Any]) -> list[str]:
        return [
            e["type"]
            for e in page["items"]
            if booking["id"] in (e["object_id"], e["data"].get("booking"))
        ]

    async def feed(key: str, after: int | None = None) -> dict[str, Any]:
        query = "" if after is None else f"?after={after}"
        resp = await client.get(f"/v1/events{query}", headers=bearer(key))
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    # The feed holds back events until every older transaction on the server has ended
    # (other sessions' too): wait until this booking's last event shows.
    for _ in range(600):
        if "booking.confirmed" in about_booking(await feed(operator_key)):
            break
        await asyncio.sleep(0.1)

    mine = about_booking(page := await feed(app_key))
    assert [t for t in mine if t.startswith("booking.")] == [
        "booking.pending",
        "booking.confirming",
        "booking.confirmed",
    ]
    assert "ticket.issued" in mine
    assert "booking.confirmed" in about_booking(await feed(operator_key))
    assert about_booking(await feed(other_app)) == []
    assert about_booking(await feed(stranger)) == []
    # Paging: after the first event, everything but it.
    first = page["items"][0]["id"]
    rest = await feed(app_key, first)
    assert [e["id"] for e in rest["items"]] == [e["id"] for e in page["items"][1:]]
    unknown = await client.get("/v1/events?after=999999999", headers=bearer(app_key))
    assert (unknown.status, (await unknown.json(content_type=None))["code"]) == (
        400,
        "invalid_cursor",
    )


async def _until(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    for _ in range(400):
        got = check()
        if got if isinstance(got, bool) else await got:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not seen: {what}")


async def test_a_notify_at_commit_wakes_the_dispatcher_and_listen_reconnects(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    aiohttp_server: ServerFactory,
) -> None:
    # The poll is an hour apart: only the NOTIFY can bring these events out.
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"webhook_interval_s": 3600.0}))
    )
    assert client.app is not None
    listener = client.app[webhook_listener_key]
    await _until(lambda: listener.connected, "the LISTEN connection")
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    key = await make_key("maas")
    _, created = await _register(client, key, str(server.make_url("/hook")), ["booking.*"])
    receiver.secret = created["secret"]
    owner = await db.fetchval(
        "SELECT owner FROM webhook_endpoints WHERE id = $1::uuid", created["id"]
    )

    async def write(n: int) -> None:
        await db.execute(
            "SELECT outbox_write('booking', $1, 'booking.confirmed', NULL, ARRAY[$2], $3)",
            str(uuid.uuid4()),  # a booking's object id is its uuid (events refuses others)
            owner,
            {"n": n},
        )

    await write(1)
    await _until(lambda: len(receiver.seen) == 1, "the first event delivered")
    assert listener.notifications >= 1
    # An event nobody's endpoint wants queues no delivery and sends no notification.
    before = listener.notifications
    await db.execute(
        "SELECT outbox_write('feed', 'x', 'feed.current', NULL, ARRAY['operator:nobody'], '{}')"
    )
    # The LISTEN connection dies (a PostgreSQL restart): it connects again and catches up.
    killed = await db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()",
        LISTEN_APPLICATION_NAME,
    )
    assert killed == 1
    await _until(lambda: listener.connections >= 2 and listener.connected, "a new connection")
    assert listener.notifications == before
    await write(2)
    await _until(lambda: len(receiver.seen) == 2, "the second event delivered")
    assert receiver.rejected == 0
