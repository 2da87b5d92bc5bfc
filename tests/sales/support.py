"""Helpers of the sales tests: operators with the demo Kuopio fares, and a maas client."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from aiohttp.test_utils import TestClient

from gateway.appkeys import settings_key
from gateway.demo.kuopio import read_demo_fare_files
from gateway.demo.run import DEMO_DAY_TICKET
from sales.conditions import set_conditions
from sales.fares import store_fares, zip_files
from sales.signing import ensure_signing_key
from tests.conftest import bearer


async def operator_with_demo_fares(
    pool: asyncpg.Pool,
    operator_id: str | None = None,
    fares_of: str = "kuopion-liikenne",
    signing_secret: bytes | None = None,
    **columns: Any,
) -> str:
    """Create an operator (a fresh id unless given) selling the demo fares of `fares_of`."""
    operator_id = operator_id or f"op-{uuid.uuid4().hex[:8]}"
    names = ["id", "name", *columns]
    values = [operator_id, f"Operator {operator_id}", *columns.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await pool.execute(
        f"INSERT INTO operators ({', '.join(names)}) VALUES ({placeholders}) "
        "ON CONFLICT DO NOTHING",
        *values,
    )
    await ensure_signing_key(pool, operator_id, signing_secret)  # as onboarding does
    await store_fares(
        pool, operator_id, zip_files(read_demo_fare_files(fares_of)), "Europe/Helsinki"
    )
    await set_conditions(pool, operator_id, "day", DEMO_DAY_TICKET)
    return operator_id


def day_ticket_offer(operator_id: str, travellers: int = 1) -> dict[str, Any]:
    """Return the body of an offer request for the demo day ticket."""
    return {
        "product": {"operator_id": operator_id, "product_id": "day"},
        "travellers": [{"rider_category": "adult"}] * travellers,
    }


async def offer(client: TestClient, key: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[type-arg]
    """Create an offer and return it."""
    resp = await client.post("/v1/offers", json=body, headers=bearer(key))
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def book(
    client: TestClient,  # type: ignore[type-arg]
    key: str,
    offer_ids: list[str],
    idempotency_key: str | None = None,
    travellers: int = 1,
) -> tuple[int, dict[str, Any]]:
    """Book offers; return the status and the body."""
    headers = bearer(key) | {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    body = {"offer_ids": offer_ids, "travellers": [{"rider_category": "adult"}] * travellers}
    resp = await client.post("/v1/bookings", json=body, headers=headers)
    return resp.status, await resp.json(content_type=None)


async def confirmed_ticket(
    client: TestClient,  # type: ignore[type-arg]
    pool: asyncpg.Pool,
    maas_key: str,
    operator_id: str | None = None,
) -> tuple[str, str]:
    """Buy and confirm a day ticket (of a new operator unless given); return (operator, token)."""
    secret = client.app[settings_key].signing_secret if client.app else None
    operator_id = await operator_with_demo_fares(pool, operator_id, signing_secret=secret)
    created = await offer(client, maas_key, day_ticket_offer(operator_id))
    _, booking = await book(client, maas_key, [created["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(maas_key))
    token: str = (await resp.json())["legs"][0]["ticket"]["token"]
    return operator_id, token


def in_days(days: int, hhmm: str = "08:00") -> dt.datetime:
    """Return a time `days` from today in Helsinki: test departures that have not left."""
    today = dt.datetime.now(ZoneInfo("Europe/Helsinki")).date()
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(
        today + dt.timedelta(days=days), dt.time(hour, minute), ZoneInfo("Europe/Helsinki")
    )


def token_claims(token: str) -> dict[str, Any]:
    """Return the claims of a signed token, unverified (what a test looks at)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def cancellable_ticket(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    maas: str,
    operator_id: str | None = None,
) -> tuple[str, str, str]:
    """Buy a cancellable day ticket (valid from 2030); return (operator, booking id, token)."""
    operator_id = operator_id or await operator_with_demo_fares(db)
    body = day_ticket_offer(operator_id)
    body["product"]["valid_from"] = "2030-01-01T00:00:00+02:00"
    _, booking = await book(client, maas, [(await offer(client, maas, body))["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(maas))
    confirmed = await resp.json()
    assert confirmed["status"] == "CONFIRMED", confirmed
    return operator_id, booking["id"], confirmed["legs"][0]["ticket"]["token"]
