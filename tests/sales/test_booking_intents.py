"""The booking state machine: intents first, operators called with nothing held, then outcomes."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.appkeys import sales_key
from gateway.settings import Settings
from sales.bookings import expire_due
from sales.legs import Sales
from sales.settle import recover_due
from sales.tokens import seal_private_pem
from tests.conftest import ClientFactory, bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
ServerFactory = Callable[..., Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def tomp(aiohttp_server: ServerFactory) -> tuple[FakeTomp, str]:
    fake = FakeTomp()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url(""))


async def _client(aiohttp_client: ClientFactory, settings: Settings, **update: Any) -> Client:
    quick = {"operator_timeout_s": 10.0, "operator_attempts": 1, "expiry_interval_s": 3600.0}
    client: Client = await aiohttp_client(create_app(settings.model_copy(update=quick | update)))
    return client


def _sales(client: Client) -> Sales:
    assert client.app is not None
    return client.app[sales_key]


async def _booking(client: Client, db: asyncpg.Pool, key: str, *operators: str) -> dict[str, Any]:
    offers = [await offer(client, key, day_ticket_offer(op)) for op in operators]
    status, booking = await book(client, key, [o["id"] for o in offers])
    assert status == 201, booking
    assert booking["status"] == "PENDING", booking
    return booking


async def _shown(client: Client, key: str, booking_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/bookings/{booking_id}", headers=bearer(key))
    shown: dict[str, Any] = await resp.json()
    return shown


async def _purchase(client: Client, key: str, operator_id: str) -> dict[str, Any]:
    created = await offer(client, key, day_ticket_offer(operator_id))
    _, booking = await book(client, key, [created["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed: dict[str, Any] = await resp.json()
    return confirmed


async def test_a_slow_operator_does_not_slow_another_tenants_hosted_purchases(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    # Two pooled connections for six stuck confirms: holding one per call would starve the pool.
    client = await _client(aiohttp_client, settings, db_pool_max=2)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    hosted = await operator_with_demo_fares(db)
    slow_tenant, other_tenant = await make_key("maas"), await make_key("maas")
    bookings = [await _booking(client, db, slow_tenant, remote) for _ in range(6)]
    fake.gate_before = {"COMMIT"}
    confirms = [
        asyncio.create_task(
            client.post(f"/v1/bookings/{b['id']}/confirm", headers=bearer(slow_tenant))
        )
        for b in bookings
    ]
    await fake.held.wait()
    purchase = await asyncio.wait_for(_purchase(client, other_tenant, hosted), 60)
    assert purchase["status"] == "CONFIRMED"
    assert purchase["legs"][0]["ticket"]["token"]
    assert not any(task.done() for task in confirms)  # the slow operator still holds them all
    fake.gate.set()
    answers = [await (await task).json() for task in confirms]
    assert {a["status"] for a in answers} == {"CONFIRMED"}
    assert fake.operations().count("COMMIT") == 6


@pytest.mark.parametrize("step", ["cancel", "expiry"])
async def test_a_slow_operators_cancels_and_expiries_do_not_slow_another_tenants_purchases(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
    step: str,
) -> None:
    fake, url = tomp
    # Six stuck cancels on two pooled connections, or one expiry round on one connection:
    # holding a connection across the operator's calls would starve the other tenant.
    client = await _client(aiohttp_client, settings, db_pool_max=2 if step == "cancel" else 1)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    hosted = await operator_with_demo_fares(db)
    slow_tenant, other_tenant = await make_key("maas"), await make_key("maas")
    bookings = [await _booking(client, db, slow_tenant, remote) for _ in range(6)]
    ids = [b["id"] for b in bookings]
    if step == "cancel":
        for booking_id in ids:
            resp = await client.post(
                f"/v1/bookings/{booking_id}/confirm", headers=bearer(slow_tenant)
            )
            assert (await resp.json())["status"] == "CONFIRMED"
        fake.gate_before = {"CANCEL"}
        stuck: list[asyncio.Task[Any]] = [
            asyncio.create_task(
                client.post(f"/v1/bookings/{b}/cancel", headers=bearer(slow_tenant))
            )
            for b in ids
        ]
    else:
        await db.execute(
            "UPDATE bookings SET expires_at = now() - interval '1 second' "
            "WHERE id = ANY($1::uuid[])",
            ids,
        )
        fake.gate_before = {"DENY"}
        stuck = [asyncio.create_task(expire_due(_sales(client)))]
    await fake.held.wait()
    purchase = await asyncio.wait_for(_purchase(client, other_tenant, hosted), 60)
    assert purchase["status"] == "CONFIRMED"
    assert purchase["legs"][0]["ticket"]["token"]
    assert not any(task.done() for task in stuck)  # the slow operator still holds them all
    fake.gate.set()
    await asyncio.gather(*stuck)
    final = {(await _shown(client, slow_tenant, b))["status"] for b in ids}
    assert final == {"CANCELLED" if step == "cancel" else "EXPIRED"}
    assert fake.operations().count("CANCEL" if step == "cancel" else "DENY") == 6


async def test_a_concurrent_confirm_or_cancel_sees_the_intent_and_never_calls_twice(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    key = await make_key("maas")
    booking = await _booking(client, db, key, remote)
    path = f"/v1/bookings/{booking['id']}"
    fake.gate_before = {"COMMIT"}
    first = asyncio.create_task(client.post(f"{path}/confirm", headers=bearer(key)))
    await fake.held.wait()
    assert (await _shown(client, key, booking["id"]))["status"] == "CONFIRMING"
    for step in ("confirm", "cancel"):
        resp = await client.post(f"{path}/{step}", headers=bearer(key))
        assert resp.status == 409, step
        assert (await resp.json(content_type=None))["code"] == "booking_busy"
    fake.gate.set()
    assert (await (await first).json())["status"] == "CONFIRMED"
    assert fake.operations() == ["COMMIT"]


async def test_tickets_that_fail_to_sign_keep_the_booking_confirming_not_pending(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    hosted = await operator_with_demo_fares(db)
    key = await make_key("maas")
    booking = await _booking(client, db, key, hosted, remote)
    # A key the gateway's secret cannot open: signing fails after both operators committed.
    kid, pem = await db.fetchrow(
        "SELECT kid, private_pem FROM signing_keys WHERE operator_id = $1", remote
    )
    await db.execute(
        "UPDATE signing_keys SET private_pem = $2 WHERE kid = $1",
        kid,
        seal_private_pem(bytes(pem), b"another secret, not the gateway's"),
    )
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 409
    assert (await resp.json(content_type=None))["code"] == "booking_busy"
    shown = await _shown(client, key, booking["id"])
    assert shown["status"] == "CONFIRMING"
    assert [leg["status"] for leg in shown["legs"]] == ["CONFIRMED", "CONFIRMED"]
    assert all("ticket" not in leg for leg in shown["legs"])
    assert fake.bookings == {"tomp-1": "CONFIRMED"}
    await db.execute("UPDATE signing_keys SET private_pem = $2 WHERE kid = $1", kid, pem)
    assert await recover_due(_sales(client)) >= 1
    shown = await _shown(client, key, booking["id"])
    assert shown["status"] == "CONFIRMED"
    assert all(leg["ticket"]["status"] == "VALID" for leg in shown["legs"])
    assert fake.operations() == ["COMMIT"]  # recovery did not ask the operators again


async def _conditional(
    client: Client, db: asyncpg.Pool, key: str, fake: FakeTomp, url: str
) -> dict[str, Any]:
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    hosted = await operator_with_demo_fares(db)
    booking = await _booking(client, db, key, hosted, remote)
    fake.conditional = True
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 200
    shown: dict[str, Any] = await resp.json()
    assert shown["status"] == "CONDITIONAL_CONFIRMED"
    assert [leg["status"] for leg in shown["legs"]] == ["CONFIRMED", "CONDITIONAL_CONFIRMED"]
    assert all("ticket" not in leg for leg in shown["legs"])
    return shown


async def _recheck_now(db: asyncpg.Pool, booking_id: str) -> None:
    await db.execute("UPDATE bookings SET settle_after = now() WHERE id = $1::uuid", booking_id)


async def test_conditional_confirmed_has_no_ticket_until_the_operator_commits(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    key = await make_key("maas")
    booking = await _conditional(client, db, key, fake, url)
    await _recheck_now(db, booking["id"])
    await recover_due(_sales(client))  # the operator has not decided yet
    assert (await _shown(client, key, booking["id"]))["status"] == "CONDITIONAL_CONFIRMED"
    fake.decide("tomp-1", "CONFIRMED")
    await _recheck_now(db, booking["id"])
    await recover_due(_sales(client))
    shown = await _shown(client, key, booking["id"])
    assert shown["status"] == "CONFIRMED"
    assert all(leg["ticket"]["status"] == "VALID" for leg in shown["legs"])
    assert [c[0] for c in fake.calls].count("GET") == 2


async def test_conditional_confirmed_that_the_operator_denies_is_rejected_and_compensated(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    key = await make_key("maas")
    booking = await _conditional(client, db, key, fake, url)
    fake.decide("tomp-1", "REJECTED")
    await _recheck_now(db, booking["id"])
    await recover_due(_sales(client))
    shown = await _shown(client, key, booking["id"])
    assert shown["status"] == "REJECTED"
    assert [leg["status"] for leg in shown["legs"]] == ["CANCELLED", "RELEASED"]
    assert all("ticket" not in leg for leg in shown["legs"])


async def test_recovery_finishes_a_confirm_and_a_cancel_that_a_crash_interrupted(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    key = await make_key("maas")
    booking = await _booking(client, db, key, remote)
    # What a process that died right after committing its intent leaves behind.
    for step, leg_state in (("CONFIRMING", "CONFIRMING"), ("CANCELLING", "CANCELLING")):
        await db.execute(
            "UPDATE bookings SET status = $2, settle_after = now() - interval '1 second' "
            "WHERE id = $1::uuid",
            booking["id"],
            step,
        )
        await db.execute(
            "UPDATE booking_legs SET status = $2 WHERE booking_id = $1::uuid",
            booking["id"],
            leg_state,
        )
        assert await recover_due(_sales(client)) == 1
        shown = await _shown(client, key, booking["id"])
        expected = "CONFIRMED" if step == "CONFIRMING" else "CANCELLED"
        assert shown["status"] == expected
        assert shown["legs"][0]["ticket"]["status"] == (
            "VALID" if expected == "CONFIRMED" else "CANCELLED"
        )
        assert fake.bookings == {"tomp-1": expected}
    assert await recover_due(_sales(client)) == 0  # nothing left owed


async def test_confirm_and_cancel_replay_their_answer_for_a_repeated_idempotency_key(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    client = await _client(aiohttp_client, settings)
    key = await make_key("maas")
    hosted = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(hosted))
    body = {"offer_ids": [created["id"]], "travellers": [{"rider_category": "adult"}]}
    headers = bearer(key) | {"Idempotency-Key": "book-1"}
    first = await client.post("/v1/bookings", json=body, headers=headers)
    again = await client.post("/v1/bookings", json=body, headers=headers)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    booking = await first.json()
    assert await again.json() == booking
    path = f"/v1/bookings/{booking['id']}"
    for step in ("confirm", "cancel"):
        step_headers = bearer(key) | {"Idempotency-Key": f"{step}-1"}
        answers = [await client.post(f"{path}/{step}", headers=step_headers) for _ in range(2)]
        assert [a.status for a in answers] == [200, 200], step
        assert "Idempotent-Replayed" not in answers[0].headers
        assert answers[1].headers["Idempotent-Replayed"] == "true"
        assert await answers[0].json() == await answers[1].json()
    # Without a key too, a cancel of a booking this app already cancelled replays its outcome.
    resp = await client.post(f"{path}/cancel", headers=bearer(key))
    assert resp.status == 200
    assert resp.headers["Idempotent-Replayed"] == "true"
    assert await resp.json() == await answers[0].json()
    # The same key on another booking's step is another request: refused, not replayed.
    other = await client.post(
        f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key) | {"Idempotency-Key": "book-1"}
    )
    assert other.status == 422
    assert "Idempotent-Replayed" not in other.headers


async def test_a_cancel_whose_answer_was_lost_is_replayed_when_retried(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    client = await _client(aiohttp_client, settings)
    key = await make_key("maas")
    booking = await _booking(client, db, key, await operator_with_demo_fares(db))
    path = f"/v1/bookings/{booking['id']}"
    assert (await client.post(f"{path}/confirm", headers=bearer(key))).status == 200
    headers = bearer(key) | {"Idempotency-Key": "cancel-lost"}
    first = await client.post(f"{path}/cancel", headers=headers)
    assert first.status == 200
    answered = await first.json()
    assert answered["status"] == "CANCELLED"
    # The process died after the cancel committed, before it recorded the key's outcome:
    # the retry takes the key over once its lease has passed and runs the cancel again.
    await db.execute(
        """UPDATE idempotency_keys SET outcome = NULL, response_body = NULL,
                  locked_until = now() - interval '1 second'
           WHERE key = 'cancel-lost'"""
    )
    retried = await client.post(f"{path}/cancel", headers=headers)
    assert retried.status == 200, await retried.text()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert await retried.json() == answered
    # The outcome is recorded now: a third try replays it from the key.
    third = await client.post(f"{path}/cancel", headers=headers)
    assert (third.status, third.headers["Idempotent-Replayed"]) == (200, "true")
    assert await third.json() == answered
    refunds = await db.fetchval(
        "SELECT count(*) FROM settlement_entries WHERE booking_id = $1::uuid AND kind = 'refund'",
        booking["id"],
    )
    assert refunds == 1  # the money went back once
    # Another app's cancel of the booking is not a replay: it is not its booking.
    stranger = await client.post(f"{path}/cancel", headers=bearer(await make_key("maas")))
    assert stranger.status == 404


async def test_two_recovery_rounds_at_once_take_each_booking_once(
    aiohttp_client: ClientFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    client = await _client(aiohttp_client, settings)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    key = await make_key("maas")
    booking = await _booking(client, db, key, remote)
    await db.execute(
        "UPDATE bookings SET status = 'CONFIRMING', settle_after = now() - interval '1 second' "
        "WHERE id = $1::uuid",
        booking["id"],
    )
    await db.execute(
        "UPDATE booking_legs SET status = 'CONFIRMING' WHERE booking_id = $1::uuid", booking["id"]
    )
    fake.gate_before = {"COMMIT"}
    rounds = [asyncio.create_task(recover_due(_sales(client))) for _ in range(2)]
    await fake.held.wait()
    fake.gate.set()
    taken = await asyncio.gather(*rounds)
    mine = await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", booking["id"])
    assert mine == "CONFIRMED"
    assert fake.operations() == ["COMMIT"]  # one round took it, the other skipped it
    assert sum(taken) >= 1
