"""Travel states and trip records from real bookings made through the sales API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from flows import consent
from flows.jobs import run_once
from flows.periods import period_of
from flows.pseudonyms import pseudonyms_of
from tests.conftest import bearer
from tests.flows.support import TEST_CONFIG
from tests.sales.support import day_ticket_offer, in_days, offer, operator_with_demo_fares

Client = TestClient[Any, Any]
BUS = "kuopion-liikenne"


def _legs(days: int) -> list[dict[str, str]]:
    """Two real rides of Kuopion Liikenne `days` from now: 08:00-08:20, then 08:30-08:50."""
    return [
        {
            "operator_id": BUS,
            "route_id": f"{BUS}:19",
            "trip_id": f"{BUS}:trip-1",
            "from_stop_id": f"{BUS}:156210",
            "to_stop_id": f"{BUS}:176719",
            "departure": in_days(days).isoformat(),
            "arrival": in_days(days, "08:20").isoformat(),
        },
        {
            "operator_id": BUS,
            "route_id": f"{BUS}:19",
            "trip_id": f"{BUS}:trip-2",
            "from_stop_id": f"{BUS}:176719",
            "to_stop_id": f"{BUS}:156210",
            "departure": in_days(days, "08:30").isoformat(),
            "arrival": in_days(days, "08:50").isoformat(),
        },
    ]


def _itinerary(days: int) -> dict[str, Any]:
    return {"itinerary": {"legs": _legs(days)}, "travellers": [{}]}


async def _confirmed(client: Client, key: str, body: dict[str, Any], ref: str) -> str:
    created = await offer(client, key, body)
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    booking = {
        "offer_ids": [created["id"]],
        "travellers": created["travellers"],
        "traveller_ref": ref,
    }
    resp = await client.post("/v1/bookings", json=booking, headers=headers)
    assert resp.status == 201, await resp.text()
    booking_id = (await resp.json())["id"]
    resp = await client.post(f"/v1/bookings/{booking_id}/confirm", headers=bearer(key))
    assert (await resp.json())["status"] == "CONFIRMED"
    return str(booking_id)


async def _status(db: asyncpg.Pool, booking_id: str) -> str:
    status: str = await db.fetchval(
        "SELECT status FROM bookings WHERE id = $1", uuid.UUID(booking_id)
    )
    return status


async def _records(db: asyncpg.Pool, period: str) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM flow_trip_records WHERE period = $1", period))


async def test_an_itinerary_starts_finishes_and_becomes_one_trip_record(
    client: Client, db: asyncpg.Pool, kuopio_demo: str, make_key: Any
) -> None:
    await operator_with_demo_fares(db, BUS)
    key = await make_key("maas", tenant_id=f"app-{uuid.uuid4().hex[:6]}")
    tenant = (await (await client.get("/v1/me", headers=bearer(key))).json())["tenant_id"]
    ref = f"ref-{uuid.uuid4().hex[:8]}"
    await consent.grant(db, TEST_CONFIG.controller, tenant, ref, "trip-statistics")
    booking = await _confirmed(
        client, key, {"itinerary": {"legs": _legs(2)}, "travellers": [{}]}, ref
    )
    period = period_of(in_days(2), TEST_CONFIG.timezone).name
    before = len(await _records(db, period))

    await run_once(db, TEST_CONFIG, in_days(2, "08:10"))
    assert await _status(db, booking) == "STARTED"
    await run_once(db, TEST_CONFIG, in_days(2, "08:49"))
    assert await _status(db, booking) == "STARTED"
    await run_once(db, TEST_CONFIG, in_days(2, "08:51"))
    assert await _status(db, booking) == "FINISHED"
    await run_once(db, TEST_CONFIG, in_days(2, "09:30"))  # a finished booking is recorded once

    records = await _records(db, period)
    assert len(records) == before + 1
    mine = [r for r in records if r["hour"] == 8 and r["legs"] == 2]
    assert mine, "the two-leg 08:00 trip is recorded"
    record = dict(mine[-1])
    assert record["origin_fare"] == record["destination_fare"] == f"{BUS}:A"
    assert record["modes"] == ["bus"]
    assert record["operators"] == [BUS]
    assert record["service_date"] == in_days(2).date()
    # Nothing in the record points back to the booking, the stops or the exact time.
    flat = repr(record)
    assert booking not in flat
    assert "156210" not in flat
    assert ref not in flat
    assert "08:00" not in flat
    events = await db.fetch(
        "SELECT type FROM booking_events WHERE booking_id = $1 ORDER BY id", uuid.UUID(booking)
    )
    assert [e["type"] for e in events][-2:] == ["booking.started", "booking.finished"]


async def test_no_record_without_consent_before_travelling(
    client: Client, db: asyncpg.Pool, kuopio_demo: str, make_key: Any
) -> None:
    await operator_with_demo_fares(db, BUS)
    key = await make_key("maas", tenant_id=f"app-{uuid.uuid4().hex[:6]}")
    tenant = (await (await client.get("/v1/me", headers=bearer(key))).json())["tenant_id"]
    late, never = f"late-{uuid.uuid4().hex[:6]}", f"never-{uuid.uuid4().hex[:6]}"
    legs = {"itinerary": {"legs": _legs(3)}, "travellers": [{}]}
    first = await _confirmed(client, key, legs, late)
    second = await _confirmed(
        client, key, {"itinerary": {"legs": _legs(3)}, "travellers": [{}]}, never
    )
    period = period_of(in_days(3), TEST_CONFIG.timezone).name
    before = len(await _records(db, period))
    await consent.grant(db, TEST_CONFIG.controller, tenant, late, "trip-statistics")
    # The departure is days away; a grant after it is one whose time is after it.
    await db.execute(
        "UPDATE flow_consents SET granted_at = $3 WHERE tenant_id = $1 AND traveller_ref = $2",
        tenant,
        late,
        in_days(3, "08:05"),
    )
    await run_once(db, TEST_CONFIG, in_days(3, "09:00"))
    assert await _status(db, first) == await _status(db, second) == "FINISHED"
    assert len(await _records(db, period)) == before


async def test_a_day_ticket_never_starts_and_makes_no_record(
    client: Client, db: asyncpg.Pool, make_key: Any
) -> None:
    operator = await operator_with_demo_fares(db)
    key = await make_key("maas", tenant_id=f"app-{uuid.uuid4().hex[:6]}")
    tenant = (await (await client.get("/v1/me", headers=bearer(key))).json())["tenant_id"]
    ref = f"day-{uuid.uuid4().hex[:6]}"
    await consent.grant(db, TEST_CONFIG.controller, tenant, ref, "trip-statistics")
    booking = await _confirmed(client, key, day_ticket_offer(operator), ref)
    await run_once(db, TEST_CONFIG, datetime.now(in_days(0).tzinfo) + timedelta(days=3))
    assert await _status(db, booking) == "CONFIRMED"
    for period, name in (await pseudonyms_of(db, tenant, ref)).items():
        found = await db.fetchval(
            "SELECT count(*) FROM flow_trip_records WHERE period = $1 AND pseudonym = $2",
            period,
            name,
        )
        assert found == 0
