"""The aggregation: k decided from trips where they suffice, exactly where not; what it deletes."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from flows.ledger import load_release
from flows.releases import ReleaseRequest, create_release
from tests.flows.support import (
    TEST_CONFIG,
    at,
    crowd,
    places_by_zone,
    record_all,
    trip,
    unique_period,
    zone,
)

K = TEST_CONFIG.k
CAP = TEST_CONFIG.max_trips_per_traveller


async def test_k_is_counted_in_travellers_whatever_the_trips(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b = places["A"], places["B"]
    period = unique_period()
    few_many = [trip(f"few-{i}", a, b, at(period, d, 7)) for i in range(3) for d in range(1, 6)]
    almost = [trip(f"almost-{i}", a, b, at(period, d, 8)) for i in range(K - 1) for d in (1, 2)]
    exact = crowd("exact", K, a, b, at(period, 3, 9))
    full = [trip(f"full-{i}", a, b, at(period, d, 10)) for i in range(K) for d in range(1, CAP + 1)]
    await record_all(db, few_many + almost + exact + full)
    ask = ReleaseRequest(period, "fare-zones", "hour")
    release = await load_release(db, await create_release(db, ask, "test", TEST_CONFIG))
    od = (zone(a), zone(b))
    assert (*od, "07", "*", "*") not in release.cells  # 15 trips, 3 travellers
    assert (*od, "08", "*", "*") not in release.cells  # 18 trips, k - 1 travellers
    assert release.cells[(*od, "09", "*", "*")] == K  # k trips of k travellers
    assert release.cells[(*od, "10", "*", "*")] == K * CAP  # at the bound: no count needed


async def test_the_first_release_deletes_the_records_it_did_not_publish(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b, c = places["A"], places["B"], places["C"]
    period = unique_period()
    commuter = [trip("commuter", a, b, at(period, d, 8)) for d in range(1, CAP + 4)]
    await record_all(db, [*commuter, *crowd("ab", K, a, b, at(period, 2, 8))])
    await record_all(db, crowd("ac", 3, a, c, at(period, 2, 8)))
    count = "SELECT count(*) FROM flow_trip_records WHERE period = $1"
    assert await db.fetchval(count, period) == CAP + 3 + K + 3
    ask = ReleaseRequest(period, "fare-zones", "part_of_day")
    first = await load_release(db, await create_release(db, ask, "test", TEST_CONFIG))
    published = sum(first.cells.values())
    assert published == CAP + K
    # The suppressed A->C trips and the commuter's trips beyond the cap are gone.
    assert await db.fetchval(count, period) == published
    later = ReleaseRequest(period, "fare-zones", "hour")  # finer, but every trip is at 08
    second = await load_release(db, await create_release(db, later, "test", TEST_CONFIG))
    assert sum(second.cells.values()) == published


async def test_k_is_counted_in_travellers_with_a_breakdown_beside_a_constant_dimension(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b = places["A"], places["B"]
    period = unique_period()
    few_many = [trip(f"few-{i}", a, b, at(period, d, 7)) for i in range(3) for d in range(1, 6)]
    exact = crowd("exact", K, a, b, at(period, 3, 9))
    await record_all(db, few_many + exact)
    ask = ReleaseRequest(period, "fare-zones", "hour", ("mode",))
    first = await load_release(db, await create_release(db, ask, "test", TEST_CONFIG))
    od = (zone(a), zone(b))
    assert first.cells == {(*od, "09", "bus", "*"): K}
    # The first release deleted the 15 trips of 3 travellers by mode as well as by zone and hour.
    left = await db.fetchval("SELECT count(*) FROM flow_trip_records WHERE period = $1", period)
    assert left == K
    coarser = ReleaseRequest(period, "fare-zones", "day")
    second = await load_release(db, await create_release(db, coarser, "test", TEST_CONFIG))
    assert sum(second.cells.values()) == K


async def test_a_release_is_synthetic_when_any_trip_it_counts_is_even_a_suppressed_one(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b, c = places["A"], places["B"], places["C"]
    real, demo = unique_period(), unique_period()
    await record_all(db, crowd("real", K, a, b, at(real, 2, 8)))
    lone = replace(trip("demo-lone", a, c, at(demo, 2, 8)), synthetic=True)
    await record_all(db, [*crowd("crowd", K, a, b, at(demo, 2, 8)), lone])
    ask = ReleaseRequest(real, "fare-zones", "hour")
    plain = await load_release(db, await create_release(db, ask, "test", TEST_CONFIG))
    assert plain.metadata["synthetic"] is False
    ask = ReleaseRequest(demo, "fare-zones", "hour")
    marked = await load_release(db, await create_release(db, ask, "test", TEST_CONFIG))
    assert marked.metadata["synthetic"] is True
    assert marked.cells == {(zone(a), zone(b), "08", "*", "*"): K}
