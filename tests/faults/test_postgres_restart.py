"""#14: PostgreSQL restarted (`-m fast`, then `-m immediate`) while two `maas serve` processes sell.

The test starts its own PostgreSQL, Redis comes from the run, and clients buy day
tickets (offer, book with an Idempotency-Key, confirm) through both processes. An
answer that leaves the outcome unknown (a 5xx, a broken connection) is retried with
the same key, alternately on the other process, until it settles. Afterwards: every
booking a client was told is CONFIRMED exists and is confirmed, every key made one
booking and the database holds no other, the seats taken are the bookings' seats,
and both processes LISTEN again.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway import credentials
from gateway.dbcodecs import init_connection
from gateway.timetable import LISTEN_APPLICATION_NAME
from tests.faults.processes import Serve, call, pause, serving, unknown
from tests.faults.support import until
from tests.sales.support import day_ticket_offer, operator_with_demo_fares
from tests.servers import PrivatePostgres, private_postgres

WORKERS = 4  # clients, each starting on one of the processes in turn
#: How long a client keeps retrying one unknown outcome before the test fails.
SETTLE_S = 120.0
#: Purchases to finish between faults (and after the last), so each fault meets traffic.
BETWEEN = 12
FAULTS = ("fast", "immediate", "fast", "immediate")


@dataclass
class Ledger:
    """What the clients were told."""

    settled: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # key -> booking
    confirmed: set[str] = field(default_factory=set)
    unknown_bookings: int = 0
    unknown_confirms: int = 0
    failed_offers: int = 0


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(tmp_path) as server:
        yield server


async def _settle(
    session: aiohttp.ClientSession, urls: list[str], path: str, **kwargs: Any
) -> tuple[int, dict[str, Any], bool]:
    """POST until the answer is known; return it and whether the first one was unknown."""
    first_unknown = False
    async with asyncio.timeout(SETTLE_S):
        for attempt in itertools.count():
            status, body = await call(session, "POST", urls[attempt % len(urls)] + path, **kwargs)
            if not unknown(status, body):
                return status, body, first_unknown
            first_unknown = first_unknown or attempt == 0
            await pause(0.25)
    raise AssertionError("unreachable")


async def _purchase(
    session: aiohttp.ClientSession, urls: list[str], key: str, operator_id: str, ledger: Ledger
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    while True:  # an offer has no side effect worth settling: ask again
        status, made = await call(
            session,
            "POST",
            urls[0] + "/v1/offers",
            json=day_ticket_offer(operator_id),
            headers=auth,
        )
        if status == 201:
            break
        ledger.failed_offers += 1
        await pause(0.25)
    idem = str(uuid.uuid4())
    body = {"offer_ids": [made["id"]], "travellers": [{"rider_category": "adult"}]}
    status, booking, was_unknown = await _settle(
        session, urls, "/v1/bookings", json=body, headers=auth | {"Idempotency-Key": idem}
    )
    ledger.unknown_bookings += was_unknown
    ledger.settled[idem] = (status, booking.get("id"))
    assert status == 201, (status, booking)
    status, confirmed, was_unknown = await _settle(
        session,
        urls,
        f"/v1/bookings/{booking['id']}/confirm",
        headers=auth | {"Idempotency-Key": str(uuid.uuid4())},
    )
    ledger.unknown_confirms += was_unknown
    assert status == 200, (status, confirmed)
    assert confirmed["status"] == "CONFIRMED"
    ledger.confirmed.add(booking["id"])


async def _client(
    n: int, urls: list[str], key: str, operator_id: str, ledger: Ledger, stop: asyncio.Event
) -> None:
    order = urls[n % len(urls) :] + urls[: n % len(urls)]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            await _purchase(session, order, key, operator_id, ledger)


async def _listeners(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            LISTEN_APPLICATION_NAME,
        )
        return count
    finally:
        await conn.close()


@pytest.mark.timeout(600)
async def test_purchases_from_two_processes_survive_postgres_restarts(
    postgres: PrivatePostgres, redis_url: str, tmp_path: Path
) -> None:
    async with asyncpg.create_pool(
        postgres.url, init=init_connection, min_size=1, max_size=2
    ) as db:
        operator_id = await operator_with_demo_fares(db)
        await db.execute(
            "INSERT INTO capacities (operator_id, product_id, seats_total) VALUES ($1, $2, 100000)",
            operator_id,
            f"{operator_id}:day",
        )
        key = await credentials.create_key(db, "maas", "restarts", None, None)
    env = {
        "MAAS_DATABASE_URL": postgres.url,
        "MAAS_REDIS_URL": redis_url,
        "MAAS_BOOKING_LEASE_S": "1",
        "MAAS_RATE_LIMIT_REQUESTS": "1000000",
        "MAAS_LOG_JSON": "false",
    }
    with serving(tmp_path / "gateways", 2, env) as processes:
        figures = await _sell_through_restarts(processes, postgres, key, operator_id)
    print(f"\nfaults figures: {figures}")  # noqa: T201 - recorded in docs/reliability.md


async def _sell_through_restarts(
    processes: list[Serve], postgres: PrivatePostgres, key: str, operator_id: str
) -> dict[str, int]:
    urls = [p.url for p in processes]
    ledger, stop = Ledger(), asyncio.Event()
    clients = [
        asyncio.create_task(_client(n, urls, key, operator_id, ledger, stop))
        for n in range(WORKERS)
    ]

    async def sold(at_least: int) -> None:
        def enough() -> bool:
            for task in clients:
                if task.done():
                    task.result()  # a client's failed assertion fails the test now
            return len(ledger.confirmed) >= at_least

        await until(enough, f"{at_least} purchases confirmed", timeout_s=SETTLE_S)

    try:
        await sold(BETWEEN)
        for mode in FAULTS:
            await asyncio.to_thread(postgres.stop, mode)
            await asyncio.sleep(1.0)  # clients meet a database that is down
            await asyncio.to_thread(postgres.start)
            await sold(len(ledger.confirmed) + BETWEEN)
    finally:
        stop.set()
        results = await asyncio.gather(*clients, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    await until(lambda: _listeners_equal(postgres.url, len(processes)), "one LISTEN per process")
    return await _check(postgres.url, operator_id, ledger)


async def _listeners_equal(url: str, count: int) -> bool:
    return await _listeners(url) == count


async def _check(url: str, operator_id: str, ledger: Ledger) -> dict[str, int]:
    booked = {booking_id for status, booking_id in ledger.settled.values() if status == 201}
    assert len(booked) == len(ledger.settled)  # every key made its own booking, none twice
    async with asyncpg.create_pool(url, init=init_connection, min_size=1, max_size=2) as db:
        rows = await db.fetch(
            "SELECT b.id::text AS id, b.status, array_agg(l.status) AS legs"
            " FROM bookings b JOIN booking_legs l ON l.booking_id = b.id"
            " WHERE l.operator_id = $1 GROUP BY b.id",
            operator_id,
        )
        seats_taken = await db.fetchval(
            "SELECT seats_taken FROM capacities WHERE operator_id = $1", operator_id
        )
    stored = {r["id"]: (r["status"], list(r["legs"])) for r in rows}
    lost = [b for b in ledger.confirmed if stored.get(b, ("", []))[0] != "CONFIRMED"]
    assert lost == []
    assert set(stored) == booked  # no booking the clients were not told of
    assert all(legs == ["CONFIRMED"] for _, legs in stored.values())
    assert seats_taken == len(stored)
    return {
        "faults": len(FAULTS),
        "purchases": len(ledger.confirmed),
        "unknown_bookings_settled": ledger.unknown_bookings,
        "unknown_confirms_settled": ledger.unknown_confirms,
        "offers_refused_while_down": ledger.failed_offers,
        "lost": len(lost),
        "duplicated": len(ledger.settled) - len(booked),
    }
