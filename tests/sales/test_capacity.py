import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.sales.support import (
    book,
    day_ticket_offer,
    offer,
    operator_with_demo_fares,
)

MakeKey = Callable[..., Awaitable[str]]


async def test_last_seats_are_never_oversold_by_two_gateways(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    # Two gateway applications, each with its own connection pool: two processes' worth.
    gateways = [await aiohttp_client(create_app(settings)) for _ in range(2)]
    admin = bearer(await make_key("admin"))
    resp = await gateways[0].put(
        f"/v1/operators/{operator_id}/capacities",
        json={"product_id": f"{operator_id}:day", "seats_total": 10},
        headers=admin,
    )
    assert resp.status == 200, await resp.text()
    key = await make_key("maas")
    offers = await asyncio.gather(
        *(offer(gateways[i % 2], key, day_ticket_offer(operator_id)) for i in range(200))
    )
    results = await asyncio.gather(
        *(book(gateways[i % 2], key, [o["id"]]) for i, o in enumerate(offers))
    )
    sold = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(sold) == 10
    assert len(refused) == 190
    assert {body["code"] for body in refused} == {"sold_out"}
    taken = await db.fetchval(
        "SELECT seats_taken FROM capacities WHERE operator_id = $1", operator_id
    )
    assert taken == 10


async def test_cancelling_gives_the_seat_back(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    client = await aiohttp_client(create_app(settings))
    admin = bearer(await make_key("admin"))
    await client.put(
        f"/v1/operators/{operator_id}/capacities",
        json={"product_id": f"{operator_id}:day", "seats_total": 1},
        headers=admin,
    )
    key = await make_key("maas")
    first = await offer(client, key, day_ticket_offer(operator_id))
    second = await offer(client, key, day_ticket_offer(operator_id))
    _, booking = await book(client, key, [first["id"]])
    assert (await book(client, key, [second["id"]]))[0] == 409
    await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(key))
    assert (await book(client, key, [second["id"]]))[0] == 201


async def test_operator_key_sets_only_its_own_capacity(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    mine = await operator_with_demo_fares(db)
    theirs = await operator_with_demo_fares(db)
    client = await aiohttp_client(create_app(settings))
    key = bearer(await make_key("operator", operator_id=mine))
    body = {"product_id": f"{theirs}:day", "seats_total": 5}
    assert (
        await client.put(f"/v1/operators/{theirs}/capacities", json=body, headers=key)
    ).status == 403
    body = {"product_id": f"{mine}:day", "seats_total": 5}
    assert (
        await client.put(f"/v1/operators/{mine}/capacities", json=body, headers=key)
    ).status == 200


async def test_bookings_taking_the_same_limits_in_opposite_orders_never_deadlock(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    first, second = await operator_with_demo_fares(db), await operator_with_demo_fares(db)
    gateways = [await aiohttp_client(create_app(settings)) for _ in range(2)]
    admin = bearer(await make_key("admin"))
    for operator_id in (first, second):
        resp = await gateways[0].put(
            f"/v1/operators/{operator_id}/capacities",
            json={"product_id": f"{operator_id}:day", "seats_total": 1000},
            headers=admin,
        )
        assert resp.status == 200, await resp.text()
    key = await make_key("maas")
    pairs = 30
    orders = [(first, second) if i % 2 else (second, first) for i in range(2 * pairs)]
    offers = [
        [await offer(gateways[0], key, day_ticket_offer(op)) for op in order] for order in orders
    ]
    results = await asyncio.gather(
        *(book(gateways[i % 2], key, [o["id"] for o in two]) for i, two in enumerate(offers))
    )
    assert [status for status, _ in results] == [201] * len(orders), [
        body for status, body in results if status != 201
    ][:3]
    taken = await db.fetch(
        "SELECT seats_taken FROM capacities WHERE operator_id = ANY($1)", [first, second]
    )
    assert [r["seats_taken"] for r in taken] == [2 * pairs, 2 * pairs]
    # Giving the seats back, all at once, never deadlocks either.
    cancels = await asyncio.gather(
        *(
            gateways[i % 2].post(f"/v1/bookings/{body['id']}/cancel", headers=bearer(key))
            for i, (_, body) in enumerate(results)
        )
    )
    assert [c.status for c in cancels] == [200] * len(orders)
    taken = await db.fetch(
        "SELECT seats_taken FROM capacities WHERE operator_id = ANY($1)", [first, second]
    )
    assert [r["seats_taken"] for r in taken] == [0, 0]
