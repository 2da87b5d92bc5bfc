"""Settlement: a month of sales, app and operator cancels, summed exactly; closed and signed."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.cli.main import main as maas
from gateway.demo.run import DEMO_DAY_TICKET
from sales.conditions import set_conditions
from sales.settlement import ISSUER, STATEMENT_TYPE
from sales.tokens import decode_signed
from tests.conftest import bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares
from tests.servers import fresh_database

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]
PERIOD = datetime.now(UTC).strftime("%Y-%m")
CANCELLABLE = DEMO_DAY_TICKET.model_copy(
    update={
        "cancellable": True,
        "refundable": True,
        "refundable_before_min": 0,
        "refund_fee_minor": 50,
    }
)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: closing a period must not move other tests' sales."""
    with fresh_database(tmp_path) as url:
        yield url


async def _sell(client: Client, key: str, operator: str) -> dict[str, Any]:
    body = day_ticket_offer(operator)
    body["product"]["valid_from"] = "2030-01-01T00:00:00+02:00"
    _, booking = await book(client, key, [(await offer(client, key, body))["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed: dict[str, Any] = await resp.json()
    assert confirmed["status"] == "CONFIRMED", confirmed
    return confirmed


async def _month_of_sales(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> tuple[list[str], list[str], dict[str, str]]:
    """Sell to two apps from two operators; the apps cancel some, the operators others."""
    operators = [await operator_with_demo_fares(db) for _ in range(2)]
    for op in operators:
        await set_conditions(db, op, "day", CANCELLABLE)
    apps = [await make_key("maas") for _ in range(2)]
    operator_keys = {op: await make_key("operator", operator_id=op) for op in operators}
    rng = random.Random(16)
    for _ in range(16):
        app, op = rng.choice(apps), rng.choice(operators)
        booking = await _sell(client, app, op)
        fate = rng.random()
        if fate < 0.25:
            resp = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(app))
            assert resp.status == 200, await resp.text()
        elif fate < 0.45:
            leg = await db.fetchval(
                "SELECT id FROM booking_legs WHERE booking_id = $1::uuid", booking["id"]
            )
            resp = await client.post(
                f"/v1/operators/{op}/bookings/{leg}/events",
                json={"operation": "CANCEL"},
                headers=bearer(operator_keys[op]),
            )
            assert resp.status == 200, await resp.text()
    return operators, apps, operator_keys


async def _from_bookings(db: asyncpg.Pool) -> dict[tuple[str, str, str], dict[str, int]]:
    """The same sums straight from the bookings, legs and tickets."""
    rows = await db.fetch(
        """SELECT l.operator_id, b.tenant_id, l.currency, l.price_minor, b.status,
                  l.refund_minor, b.refund_minor AS booking_refund
           FROM booking_legs l JOIN bookings b ON b.id = l.booking_id
           JOIN tickets t ON t.booking_leg_id = l.id"""
    )
    sums: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        line = sums[(r["operator_id"], r["tenant_id"], r["currency"])]
        line["tickets_sold"] += 1
        line["sold_minor"] += r["price_minor"]
        if r["status"] == "CANCELLED":
            line["refunds"] += 1
            line["refunded_minor"] += r["booking_refund"]  # one leg per booking here
            line["fees_minor"] += r["price_minor"] - r["booking_refund"]
    for line in sums.values():
        line["net_minor"] = line["sold_minor"] - line["refunded_minor"]
    return sums


async def test_settlement_sums_equal_the_bookings_then_close_signs_them_for_good(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operators, apps, operator_keys = await _month_of_sales(client, db, make_key)
    admin = await make_key("admin")
    resp = await client.get(f"/v1/settlements?period={PERIOD}", headers=bearer(admin))
    shown = await resp.json()
    assert "closed_at" not in shown  # open: summed now, not signed
    got = {
        (i["operator_id"], i["tenant_id"], i["currency"]): {
            k: v for k, v in i.items() if k not in ("operator_id", "tenant_id", "currency", "jws")
        }
        for i in shown["items"]
    }
    expected = {k: dict(v) for k, v in (await _from_bookings(db)).items()}
    for line in expected.values():
        line.setdefault("refunds", 0)
        line.setdefault("refunded_minor", 0)
        line.setdefault("fees_minor", 0)
    assert got == expected
    assert any(v["refunds"] for v in got.values())
    assert any(v["fees_minor"] for v in got.values())  # app cancels pay the fee
    # The operator sees its own lines only; asking for another's is refused.
    own = await (
        await client.get(
            f"/v1/settlements?period={PERIOD}", headers=bearer(operator_keys[operators[0]])
        )
    ).json()
    assert {i["operator_id"] for i in own["items"]} <= {operators[0]}
    other = await client.get(
        f"/v1/settlements?period={PERIOD}&operator={operators[1]}",
        headers=bearer(operator_keys[operators[0]]),
    )
    assert other.status == 403
    csv = await client.get(
        f"/v1/settlements?period={PERIOD}", headers=bearer(admin) | {"Accept": "text/csv"}
    )
    lines = (await csv.text()).splitlines()
    assert lines[0].startswith("period,operator_id,tenant_id,currency,tickets_sold")
    assert len(lines) == len(got) + 1

    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    close = ["settlements", "close", "--period", PERIOD]
    assert await asyncio.to_thread(maas, close) == 0
    assert await asyncio.to_thread(maas, close) == 1  # once only
    closed = await (
        await client.get(f"/v1/settlements?period={PERIOD}", headers=bearer(admin))
    ).json()
    assert closed["closed_at"]
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    for item in closed["items"]:
        claims, owner = decode_signed(item["jws"], jwks, STATEMENT_TYPE)
        assert owner == ISSUER
        assert claims["period"] == PERIOD
        assert {k: claims[k] for k in item if k != "jws"} == {
            k: v for k, v in item.items() if k != "jws"
        }
    with pytest.raises(asyncpg.PostgresError):
        await db.execute("UPDATE settlement_statements SET lines = '[]'")

    # A refund after closing goes to the next period; the closed statement does not move.
    booking = await _sell(client, apps[0], operators[0])
    resp = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(apps[0]))
    assert resp.status == 200
    again = await (
        await client.get(f"/v1/settlements?period={PERIOD}", headers=bearer(admin))
    ).json()
    assert again == closed
    periods = await db.fetch(
        "SELECT DISTINCT period FROM settlement_entries WHERE booking_id = $1::uuid", booking["id"]
    )
    assert [p["period"] for p in periods] == [_next(PERIOD)]


def _next(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


async def test_a_period_not_begun_or_malformed_is_refused(
    client: Client, make_key: MakeKey, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    admin = await make_key("admin")
    resp = await client.get("/v1/settlements?period=2026-13", headers=bearer(admin))
    assert resp.status == 422
    assert await asyncio.to_thread(maas, ["settlements", "close", "--period", "2999-01"]) != 0


async def _booking_refunds(db: asyncpg.Pool, booking_id: str) -> dict[str, tuple[int, int]]:
    """Each operator's refund line of a booking: (refunded, fee)."""
    rows = await db.fetch(
        """SELECT operator_id, amount_minor, fee_minor FROM settlement_entries
           WHERE booking_id = $1::uuid AND kind = 'refund'""",
        booking_id,
    )
    return {r["operator_id"]: (r["amount_minor"], r["fee_minor"]) for r in rows}


async def test_legs_cancelled_while_another_operator_refuses_get_their_refund_lines(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    database_url: str,
) -> None:
    fake = FakeTomp(refuse={"CANCEL"})
    url = str((await aiohttp_server(fake.app())).make_url(""))
    hosted = await operator_with_demo_fares(db)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    for op in (hosted, remote):
        await set_conditions(db, op, "day", CANCELLABLE)
    app = await make_key("maas")
    hosted_key = await make_key("operator", operator_id=hosted)

    async def sold() -> dict[str, Any]:
        bodies = [day_ticket_offer(op) for op in (hosted, remote)]
        for body in bodies:
            body["product"]["valid_from"] = "2030-01-01T00:00:00+02:00"
        offers = [(await offer(client, app, body))["id"] for body in bodies]
        _, booking = await book(client, app, offers)
        resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(app))
        confirmed: dict[str, Any] = await resp.json()
        assert confirmed["status"] == "CONFIRMED", confirmed
        return confirmed

    # The app cancels; the back-end refuses its leg, the hosted operator's is cancelled.
    booking = await sold()
    price = {leg["operator_id"]: leg["price_minor"] for leg in booking["legs"]}
    path = f"/v1/bookings/{booking['id']}"
    resp = await client.post(f"{path}/cancel", headers=bearer(app))
    assert resp.status == 409, await resp.text()
    shown = await (await client.get(path, headers=bearer(app))).json()
    assert shown["status"] == "CONFIRMED"
    assert [leg["status"] for leg in shown["legs"]] == ["CANCELLED", "CONFIRMED"]
    assert await _booking_refunds(db, booking["id"]) == {hosted: (price[hosted] - 50, 50)}
    assert shown["refund_minor"] == price[hosted] - 50  # what went back, not what was asked
    # Asked again once the back-end agrees: its leg is refunded, the hosted one not twice.
    fake.refuse = set()
    resp = await client.post(f"{path}/cancel", headers=bearer(app))
    assert resp.status == 200, await resp.text()
    cancelled = await resp.json()
    lines = await _booking_refunds(db, booking["id"])
    assert lines == {hosted: (price[hosted] - 50, 50), remote: (price[remote] - 50, 50)}
    assert cancelled["refund_minor"] == sum(amount for amount, _ in lines.values())

    # The hosted operator cancels its leg (a full refund); the back-end refuses the rest.
    fake.refuse = {"CANCEL"}
    booking = await sold()
    leg = await db.fetchval(
        "SELECT id FROM booking_legs WHERE booking_id = $1::uuid AND operator_id = $2",
        booking["id"],
        hosted,
    )
    resp = await client.post(
        f"/v1/operators/{hosted}/bookings/{leg}/events",
        json={"operation": "CANCEL"},
        headers=bearer(hosted_key),
    )
    assert resp.status == 200, await resp.text()
    shown = await resp.json()
    assert shown["status"] == "CONFIRMED"
    assert await _booking_refunds(db, booking["id"]) == {hosted: (price[hosted], 0)}
    assert shown["refund_minor"] == price[hosted]

    # The ledger's lines are the bookings' refunds, booking by booking.
    mismatched = await db.fetch(
        """SELECT b.id FROM bookings b
           LEFT JOIN (SELECT booking_id, sum(amount_minor) AS refunded FROM settlement_entries
                      WHERE kind = 'refund' GROUP BY booking_id) e ON e.booking_id = b.id
           WHERE coalesce(b.refund_minor, 0) <> coalesce(e.refunded, 0)"""
    )
    assert mismatched == []
