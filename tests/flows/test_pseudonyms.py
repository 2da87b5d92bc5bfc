"""Pseudonyms differ across periods, and once a period's key is gone nothing links them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg

from flows.jobs import destroy_keys
from flows.pseudonyms import pseudonym
from flows.releases import ReleaseRequest, create_release
from tests.flows.support import TEST_CONFIG, at, places_by_zone, record_all, trip, unique_period


async def _pseudonyms(pool: asyncpg.Pool, period: str) -> set[bytes]:
    rows = await pool.fetch("SELECT pseudonym FROM flow_trip_records WHERE period = $1", period)
    return {bytes(r["pseudonym"]) for r in rows}


async def test_one_traveller_has_unlinkable_pseudonyms_across_periods(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    first, second = unique_period(), unique_period()
    await record_all(db, [trip("anna", places["A"], places["B"], at(first, 3, 8))])
    await record_all(db, [trip("anna", places["A"], places["B"], at(second, 3, 8))])
    (one,), (two,) = await _pseudonyms(db, first), await _pseudonyms(db, second)
    assert one != two
    assert b"anna" not in one
    assert b"app-a" not in one

    config = replace(TEST_CONFIG, key_grace=timedelta(days=1))
    await create_release(db, ReleaseRequest(first, "fare-zones", "day"), "test", config)
    assert await destroy_keys(db, config, datetime.now(UTC)) == 0  # still within the grace time
    assert await destroy_keys(db, config, datetime.now(UTC) + timedelta(days=2)) >= 1

    keys = [bytes(r["key"]) for r in await db.fetch("SELECT key FROM flow_period_keys")]
    assert await db.fetchval("SELECT count(*) FROM flow_period_keys WHERE period = $1", first) == 0
    # No key the database still holds turns anna into her pseudonym of the first period.
    assert all(pseudonym(key, "app-a", "anna") != one for key in keys)
    destroyed = await db.fetchval(
        "SELECT key_destroyed_at FROM flow_periods WHERE period = $1", first
    )
    assert destroyed is not None


async def test_two_apps_references_never_share_a_pseudonym(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(
        db,
        [
            trip("same-ref", places["A"], places["B"], at(period, 3, 8), tenant="app-a"),
            trip("same-ref", places["A"], places["B"], at(period, 3, 9), tenant="app-b"),
        ],
    )
    assert len(await _pseudonyms(db, period)) == 2
