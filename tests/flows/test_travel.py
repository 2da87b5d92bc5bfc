"""Travel states and trip records from real bookings made through the sales API."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from flows import consent
from flows.jobs import run_once
from flows.periods import period_of
from flows.pseudonyms import pseudonyms_of
from tests.conftest import bearer
from tests.flows.live import a_live_ride, confirmed_booking, itinerary_body, tenant_of
from tests.flows.support import TEST_CONFIG
from tests.sales.support import day_ticket_offer, in_days, operator_with_demo_fares

Client = TestClient[Any, Any]


async def _status(db: asyncpg.Pool, booking_id: str) -> str:
    status: str = await db.fetchval(
        "SELECT status FROM bookings WHERE id = $1", uuid.UUID(booking_id)
    )
    return status


async def _records(db: asyncpg.Pool, period: str) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM flow_trip_records WHERE period = $1", period))


async def test_an_itinerary_starts_finishes_and_becomes_one_trip_record(
    live: Client, live_db: asyncpg.Pool, live_key: Any
) -> None:
    key = await live_key("maas")
    tenant = await tenant_of(live, key)
    ref = f"ref-{uuid.uuid4().hex[:8]}"
    await consent.grant(live_db, TEST_CONFIG.controller, tenant, ref, "trip-statistics")
    ride, departure, arrival = await a_live_ride(live)
    booking = await confirmed_booking(live, key, itinerary_body(ride), ref)
    period = period_of(departure, TEST_CONFIG.timezone).name
    before = len(await _records(live_db, period))
    minute = timedelta(minutes=1)

    await run_once(live_db, TEST_CONFIG, departure + minute)
    assert await _status(live_db, booking) == "STARTED"
    await run_once(live_db, TEST_CONFIG, arrival - minute)
    assert await _status(live_db, booking) == "STARTED"
    await run_once(live_db, TEST_CONFIG, arrival + minute)
    assert await _status(live_db, booking) == "FINISHED"
    await run_once(live_db, TEST_CONFIG, arrival + 40 * minute)  # recorded once

    records = await _records(live_db, period)
    assert len(records) == before + 1
    local = departure.astimezone(TEST_CONFIG.timezone)
    mine = [r for r in records if r["hour"] == local.hour and r["legs"] == 1]
    assert mine, "the morning ride is recorded"
    record = dict(mine[-1])
    assert str(record["origin_fare"]).startswith(f"{ride['operator_id']}:")
    assert record["modes"] == ["bus"]
    assert record["operators"] == [ride["operator_id"]]
    assert record["service_date"] == date.fromisoformat(ride["service_date"])
    # Nothing in the record points back to the booking, the stops or the exact time.
    flat = repr(record)
    assert booking not in flat
    assert ride["from_place"]["stop_id"].split(":")[-1] not in flat
    assert ref not in flat
    assert local.strftime("%H:%M") not in flat
    events = await live_db.fetch(
        "SELECT type FROM booking_events WHERE booking_id = $1 ORDER BY id", uuid.UUID(booking)
    )
    assert [e["type"] for e in events][-2:] == ["booking.started", "booking.finished"]


async def test_no_record_without_consent_before_travelling(
    live: Client, live_db: asyncpg.Pool, live_key: Any
) -> None:
    key = await live_key("maas")
    tenant = await tenant_of(live, key)
    late, never = f"late-{uuid.uuid4().hex[:6]}", f"never-{uuid.uuid4().hex[:6]}"
    ride, departure, arrival = await a_live_ride(live)
    first = await confirmed_booking(live, key, itinerary_body(ride), late)
    second = await confirmed_booking(live, key, itinerary_body(ride), never)
    period = period_of(departure, TEST_CONFIG.timezone).name
    before = len(await _records(live_db, period))
    await consent.grant(live_db, TEST_CONFIG.controller, tenant, late, "trip-statistics")
    # The departure is days away; a grant after it is one whose time is after it.
    await live_db.execute(
        "UPDATE flow_consents SET granted_at = $3 WHERE tenant_id = $1 AND traveller_ref = $2",
        tenant,
        late,
        departure + timedelta(minutes=5),
    )
    await run_once(live_db, TEST_CONFIG, arrival + timedelta(minutes=10))
    assert await _status(live_db, first) == await _status(live_db, second) == "FINISHED"
    assert len(await _records(live_db, period)) == before


async def test_a_day_ticket_never_starts_and_makes_no_record(
    client: Client, db: asyncpg.Pool, make_key: Any
) -> None:
    operator = await operator_with_demo_fares(db)
    key = await make_key("maas", tenant_id=f"app-{uuid.uuid4().hex[:6]}")
    tenant = (await (await client.get("/v1/me", headers=bearer(key))).json())["tenant_id"]
    ref = f"day-{uuid.uuid4().hex[:6]}"
    await consent.grant(db, TEST_CONFIG.controller, tenant, ref, "trip-statistics")
    booking = await confirmed_booking(client, key, day_ticket_offer(operator), ref)
    await run_once(db, TEST_CONFIG, datetime.now(in_days(0).tzinfo) + timedelta(days=3))
    assert await _status(db, booking) == "CONFIRMED"
    for period, name in (await pseudonyms_of(db, tenant, ref)).items():
        found = await db.fetchval(
            "SELECT count(*) FROM flow_trip_records WHERE period = $1 AND pseudonym = $2",
            period,
            name,
        )
        assert found == 0
