"""Releases: k-anonymity, the contribution cap, consistency against differencing, the grid."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from flows import consent
from flows.errors import InconsistentRelease, PeriodNotClosed, PeriodPurged
from flows.grid import Bucket
from flows.jobs import destroy_keys, purge_records
from flows.ledger import ReleaseData, load_release
from flows.periods import period_of
from flows.releases import ReleaseRequest, create_release, list_releases
from flows.rights import erase
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

CONTROLLER = TEST_CONFIG.controller


async def _release(
    pool: asyncpg.Pool, period: str, bucket: Bucket = "hour", zone_system: str = "fare-zones"
) -> ReleaseData:
    request = ReleaseRequest(period, zone_system, bucket)
    return await load_release(pool, await create_release(pool, request, "test", TEST_CONFIG))


async def test_no_released_cell_counts_fewer_than_k_travellers(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = list((await places_by_zone(db)).values())
    rng = random.Random(13)
    for _ in range(3):
        period = unique_period()
        trips = [
            trip(
                f"t{rng.randrange(60)}",
                rng.choice(places[:2]),
                rng.choice(places[:2]),
                at(period, rng.randrange(1, 4), rng.choice((7, 8))),
            )
            for _ in range(400)
        ]
        await record_all(db, trips)
        release = await _release(db, period)
        travellers: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for t in trips:
            cell = (str(t.origin.zone_id), str(t.destination.zone_id), f"{t.departure.hour:02d}")
            travellers[cell].add(t.traveller_ref)
        assert release.cells, "some cells must be large enough to publish"
        for (o, d, b, _m, _op), count in release.cells.items():
            assert len(travellers[(o, d, b)]) >= TEST_CONFIG.k
            assert count >= TEST_CONFIG.k
        for cell, names in travellers.items():
            published = (*cell, "*", "*") in release.cells
            assert published == (len(names) >= TEST_CONFIG.k)


async def test_a_release_lists_every_cell_of_its_grid(db: asyncpg.Pool, kuopio_demo: str) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("g", 10, places["A"], places["B"], at(period, 2, 8)))
    release = await _release(db, period, "part_of_day")
    zones = len(release.zones)
    assert release.zones[-1]["id"] == "_other"
    assert release.metadata["cells_total"] == zones * zones * 5
    assert len(release.every_cell()) == release.metadata["cells_total"]
    assert release.metadata["cells_published"] == 1
    assert release.metadata["cells_suppressed"] == zones * zones * 5 - 1


async def test_one_traveller_adds_at_most_the_cap(db: asyncpg.Pool, kuopio_demo: str) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    commuter = [trip("commuter", places["A"], places["B"], at(period, d, 8)) for d in range(1, 29)]
    others = crowd("o", 9, places["A"], places["B"], at(period, 5, 8))
    await record_all(db, commuter + others)
    release = await _release(db, period, "hour")
    cell = (zone(places["A"]), zone(places["B"]), "08", "*", "*")
    assert release.cells[cell] == TEST_CONFIG.max_trips_per_traveller + 9


async def test_differencing_a_finer_and_a_coarser_release_recovers_nothing(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b = places["A"], places["B"]
    period = unique_period()
    await record_all(db, crowd("eight", 12, a, b, at(period, 2, 8)))
    secret = 3
    await record_all(db, crowd("nine", secret, a, b, at(period, 2, 9)))
    hours = await _release(db, period, "hour")
    parts = await _release(db, period, "part_of_day")
    od = (zone(a), zone(b))
    assert hours.cells[(*od, "08", "*", "*")] == 12
    assert (*od, "09", "*", "*") not in hours.cells  # suppressed
    # The attack: the morning minus the published morning hours is what was suppressed.
    published_morning_hours = sum(
        hours.cells.get((*od, f"{h:02d}", "*", "*"), 0) for h in (6, 7, 8, 9)
    )
    recovered = parts.cells[(*od, "morning", "*", "*")] - published_morning_hours
    assert recovered == 0
    assert recovered != secret


async def test_a_finer_release_after_a_coarser_one_is_refused(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b = places["A"], places["B"]
    period = unique_period()
    await record_all(db, crowd("eight", 12, a, b, at(period, 2, 8)))
    await record_all(db, crowd("nine", 3, a, b, at(period, 2, 9)))
    parts = await _release(db, period, "part_of_day")
    assert parts.cells[(zone(a), zone(b), "morning", "*", "*")] == 15
    with pytest.raises(InconsistentRelease):
        await _release(db, period, "hour")
    # Coarsening a published release is always consistent.
    days = await _release(db, period, "day")
    assert sum(days.cells.values()) == 15


async def test_a_second_zone_system_never_reveals_a_suppressed_cell(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    a, b, c = places["A"], places["B"], places["C"]
    period = unique_period()
    await record_all(db, crowd("ab", 12, a, b, at(period, 2, 8)))
    await record_all(db, crowd("ac", 3, a, c, at(period, 2, 8)))  # suppressed in fare zones
    fare = await _release(db, period, "day")
    hexes = await _release(db, period, "day", zone_system="h3-7")
    assert sum(fare.cells.values()) == 12
    # The totals agree, so no difference of the two holds the three A->C trips.
    assert sum(hexes.cells.values()) == sum(fare.cells.values())


async def test_withdrawn_and_erased_travellers_are_absent_from_later_releases(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    trips = crowd("w", 12, places["A"], places["B"], at(period, 2, 8))
    for t in trips[:2]:
        await consent.grant(db, CONTROLLER, t.tenant_id, t.traveller_ref, "trip-statistics")
    await record_all(db, trips)
    cell = (zone(places["A"]), zone(places["B"]), f"{period}-02", "*", "*")
    assert (await _release(db, period, "day")).cells[cell] == 12
    await consent.withdraw(db, CONTROLLER, "app-a", "w-0", "trip-statistics")
    assert (await _release(db, period, "day")).cells[cell] == 11
    await erase(db, CONTROLLER, "app-a", "w-1")
    assert (await _release(db, period, "day")).cells[cell] == 10


async def test_an_open_period_cannot_be_released(db: asyncpg.Pool) -> None:
    now = period_of(datetime.now(UTC), TEST_CONFIG.timezone).name
    config = replace(TEST_CONFIG, close_after=timedelta(hours=1))
    with pytest.raises(PeriodNotClosed):
        await create_release(db, ReleaseRequest(now, "fare-zones", "day"), "test", config)


async def test_after_retention_a_period_is_purged_and_cannot_be_released(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("r", 10, places["A"], places["B"], at(period, 2, 8)))
    await _release(db, period, "day")
    later = datetime.now(UTC) + TEST_CONFIG.retention + timedelta(seconds=1)
    assert await purge_records(db, TEST_CONFIG, later) >= 1
    assert (
        await db.fetchval("SELECT count(*) FROM flow_trip_records WHERE period = $1", period) == 0
    )
    with pytest.raises(PeriodPurged):
        await _release(db, period, "day")
    assert len(await list_releases(db, period)) == 1


async def test_once_the_key_is_destroyed_the_period_takes_no_more_releases(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await consent.grant(db, CONTROLLER, "app-a", "g-0", "trip-statistics")
    await record_all(db, crowd("g", 10, places["A"], places["B"], at(period, 2, 8)))
    await _release(db, period, "day")
    later = datetime.now(UTC) + TEST_CONFIG.key_grace + timedelta(seconds=1)
    assert TEST_CONFIG.key_grace < TEST_CONFIG.retention
    assert await destroy_keys(db, TEST_CONFIG, later) >= 1
    # The records outlive the key, but an erasure can no longer find the traveller's.
    assert await db.fetchval("SELECT count(*) FROM flow_trip_records WHERE period = $1", period)
    await erase(db, CONTROLLER, "app-a", "g-0")
    with pytest.raises(PeriodPurged, match="key of"):
        await _release(db, period, "day")
    assert len(await list_releases(db, period)) == 1


async def test_releases_and_receipts_cannot_be_changed(db: asyncpg.Pool, kuopio_demo: str) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("i", 10, places["A"], places["B"], at(period, 2, 8)))
    release = await _release(db, period, "day")
    receipt = await consent.grant(db, CONTROLLER, "app-a", "i-0", "trip-statistics")
    for sql in (
        "UPDATE flow_releases SET k = 2 WHERE id = $1",
        "DELETE FROM flow_release_cells WHERE release_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(sql, release.metadata["id"])
    for sql in (
        "UPDATE flow_consent_receipts SET action = 'withdraw' WHERE id = $1",
        "DELETE FROM flow_consent_receipts WHERE id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(sql, receipt.id)


async def test_a_cell_of_a_release_that_does_not_exist_is_refused(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("n", 10, places["A"], places["B"], at(period, 2, 8)))
    release = await _release(db, period, "day")
    cells = [(release.metadata["id"], "A", "B", "x", "*", "*", 10), (uuid.uuid4(), *"ABx**", 10)]
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.copy_records_to_table("flow_release_cells", records=cells)
    assert len((await load_release(db, release.metadata["id"])).cells) == len(release.cells)


async def test_concurrent_small_releases_of_one_period_are_made_one_at_a_time(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    places = await places_by_zone(db)
    period = unique_period()
    await record_all(db, crowd("c", 10, places["A"], places["B"], at(period, 2, 8)))
    made = await asyncio.gather(*(_release(db, period, "day") for _ in range(3)))
    bases = {
        await db.fetchval("SELECT base_release_id FROM flow_periods WHERE period = $1", period)
    }
    assert len(bases) == 1
    assert bases <= {m.metadata["id"] for m in made}
    assert all(m.cells == made[0].cells for m in made)
