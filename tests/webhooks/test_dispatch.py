"""Delivering the outbox: order per object, retries on a schedule, never twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from gateway.dbcodecs import init_connection
from gateway.webhooks import http_sender
from tests.webhooks.receiver import Receiver, now
from webhooks import endpoints
from webhooks.dispatch import Schedule, dispatch_round, next_due

ServerFactory = Callable[..., Awaitable[TestServer]]
SCHEDULE = Schedule(
    lease=timedelta(seconds=30),
    base=timedelta(seconds=5),
    cap=timedelta(minutes=10),
    retry_for=timedelta(days=3),
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _serve(aiohttp_server: ServerFactory, receiver: Receiver) -> str:
    server = await aiohttp_server(receiver.app())
    return str(server.make_url("/hook"))


async def write_events(pool: asyncpg.Pool, owner: str, objects: int, each: int) -> None:
    """Write `each` events for each of `objects` objects, one transaction per event."""
    for n in range(each):
        for o in range(objects):
            await pool.execute(
                "SELECT outbox_write('feed', $1, $2, NULL, ARRAY[$3::text], $4)",
                f"obj-{o}",
                "feed.current",
                owner,
                {"n": n},
            )


def _in_order(receiver: Receiver) -> bool:
    last: dict[str, int] = {}
    for message in receiver.seen.values():
        data = message["data"]
        if data["seq"] != last.get(data["object_id"], 0) + 1:
            return False
        last[data["object_id"]] = data["seq"]
    return True


async def test_a_receiver_down_for_an_hour_gets_every_event_once_after_dedupe(
    db: asyncpg.Pool, aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    start = now()
    clock = {"now": start}
    receiver = Receiver(up=lambda: clock["now"] >= start + timedelta(hours=1))
    url = await _serve(aiohttp_server, receiver)
    await endpoints.create_endpoint(db, "operator:op", url, [], None)
    await write_events(db, "operator:op", objects=5, each=4)
    send = http_sender(session, 5.0)
    rounds = 0
    while (due := await next_due(db)) is not None:
        # Time moves only as the retry schedule says: to the next delivery due.
        clock["now"] = max(clock["now"], due)
        await dispatch_round(db, send, clock["now"], SCHEDULE)
        rounds += 1
        assert rounds < 2000
    assert len(receiver.seen) == 20
    assert _in_order(receiver)
    assert clock["now"] >= start + timedelta(hours=1)
    # Tried again and again while it was down, never once it had answered.
    assert len(receiver.requests) > 20
    delivered = await db.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL"
    )
    assert delivered == 20


async def test_two_dispatchers_never_send_one_event_twice(
    database_url: str, aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    receiver = Receiver(delay_s=0.02)
    url = await _serve(aiohttp_server, receiver)
    pools = [
        await asyncpg.create_pool(database_url, min_size=1, max_size=4, init=init_connection)
        for _ in range(2)
    ]
    try:
        await endpoints.create_endpoint(pools[0], "operator:op", url, [], None)
        await write_events(pools[0], "operator:op", objects=30, each=3)
        send = http_sender(session, 5.0)
        small = Schedule(batch=7)

        async def work(pool: asyncpg.Pool) -> None:
            while await next_due(pool) is not None:
                await dispatch_round(pool, send, now(), small)

        await asyncio.gather(*(work(p) for p in pools), *(work(p) for p in pools))
    finally:
        for pool in pools:
            await pool.close()
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 90
    assert len(set(ids)) == 90
    assert _in_order(receiver)


async def test_an_endpoint_failing_for_three_days_is_marked_and_its_owner_told(
    db: asyncpg.Pool, aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    down = Receiver(up=lambda: False)
    healthy = Receiver()
    bad, _ = await endpoints.create_endpoint(
        db, "tenant:t1", await _serve(aiohttp_server, down), ["feed.*"], None
    )
    await endpoints.create_endpoint(
        db, "tenant:t1", await _serve(aiohttp_server, healthy), ["webhook_endpoint.*"], None
    )
    await write_events(db, "tenant:t1", objects=1, each=1)
    send = http_sender(session, 5.0)
    clock = now()
    while (due := await next_due(db)) is not None and clock < now() + timedelta(days=4):
        clock = max(clock, due)
        await dispatch_round(db, send, clock, SCHEDULE)
    found = await endpoints.get_endpoint(db, "tenant:t1", bad.id)
    assert found.status == "failing"
    # Full jitter under a 10-minute cap: about 3 days of tries, every one refused.
    assert len(down.requests) > 3 * 24 * 6 / 2
    told = [m for m in healthy.seen.values() if m["type"] == "webhook_endpoint.failing"]
    assert [m["data"]["object_id"] for m in told] == [str(bad.id)]
    # Reactivated, it gets what it missed.
    down.up = lambda: True
    await endpoints.reactivate(db, "tenant:t1", bad.id)
    await dispatch_round(db, send, now(), SCHEDULE)
    assert len(down.seen) == 1


def test_backoff_is_full_jitter_under_a_growing_ceiling() -> None:
    import random

    rng = random.Random(7)
    delays = [SCHEDULE.delay(n, rng) for n in range(12) for _ in range(50)]
    assert all(timedelta(0) <= d <= SCHEDULE.cap for d in delays)
    first = [SCHEDULE.delay(0, rng) for _ in range(200)]
    assert max(first) <= SCHEDULE.base
    assert min(first) < SCHEDULE.base / 4  # jitter reaches down to zero


async def test_deliveries_are_signed_the_standard_webhooks_way_and_rotation_signs_twice(
    db: asyncpg.Pool, aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    receiver = Receiver()
    url = await _serve(aiohttp_server, receiver)
    endpoint, secret = await endpoints.create_endpoint(db, "operator:op", url, [], None)
    receiver.secret = secret
    await write_events(db, "operator:op", objects=1, each=1)
    send = http_sender(session, 5.0)
    await dispatch_round(db, send, now(), SCHEDULE)
    assert len(receiver.seen) == 1
    assert receiver.rejected == 0
    _, rotated = await endpoints.rotate_secret(
        db, "operator:op", endpoint.id, timedelta(hours=1), None
    )
    await write_events(db, "operator:op", objects=1, each=1)
    await dispatch_round(db, send, now(), SCHEDULE)
    signatures = receiver.requests[-1]["headers"]["webhook-signature"].split()
    assert len(signatures) == 2  # the new secret's and the old one's, during the grace
    assert len(receiver.seen) == 2  # the old secret still verifies
    receiver.secret = rotated
    await write_events(db, "operator:op", objects=1, each=1)
    await dispatch_round(db, send, now(), SCHEDULE)
    assert len(receiver.seen) == 3  # and so does the new one
    assert receiver.rejected == 0


def test_a_bad_signature_or_stale_timestamp_is_rejected() -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    from webhooks import signing

    secret = signing.new_secret()
    body = b'{"type":"booking.confirmed"}'
    stamp = int(now().timestamp())
    good = signing.headers([secret], "evt_1", stamp, body)
    Webhook(secret).verify(body, good)  # the reference implementation accepts ours
    signing.verify(secret, good, body, stamp)
    forged = good | {"webhook-signature": signing.sign(signing.new_secret(), "evt_1", stamp, body)}
    stale = signing.headers([secret], "evt_1", stamp - 600, body)
    for bad in (forged, stale):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, bad)
        with pytest.raises(signing.InvalidSignature):
            signing.verify(secret, bad, body, stamp)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", good)


async def test_a_redirect_is_not_followed(
    db: asyncpg.Pool, aiohttp_server: ServerFactory, session: aiohttp.ClientSession
) -> None:
    from aiohttp import web

    target = Receiver()
    target_url = await _serve(aiohttp_server, target)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(target_url)

    app = web.Application()
    app.router.add_post("/hook", redirect)
    server = await aiohttp_server(app)
    await endpoints.create_endpoint(db, "operator:op", str(server.make_url("/hook")), [], None)
    await write_events(db, "operator:op", objects=1, each=1)
    await dispatch_round(db, http_sender(session, 5.0), now(), SCHEDULE)
    row = await db.fetchrow("SELECT * FROM webhook_deliveries")
    assert (row["delivered_at"], row["last_status"]) == (None, 302)
    assert target.requests == []


_ = (Any, datetime)
