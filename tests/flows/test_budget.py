"""Differential privacy: OpenDP noise, its margin of error, a budget that cannot be overspent."""

from __future__ import annotations

import asyncio

import asyncpg
import opendp.prelude as dp
import pytest

from flows.errors import BudgetExceeded
from flows.ledger import ledger, load_release
from flows.privacy import add_noise, margin_of_error, noise_scale
from flows.releases import ReleaseRequest, create_release
from tests.flows.support import TEST_CONFIG, at, crowd, places_by_zone, record_all, unique_period


async def _period_with_trips(db: asyncpg.Pool) -> str:
    places = await places_by_zone(db)
    period = unique_period()
    trips = []
    for hour in range(6, 20):
        trips += crowd(f"h{hour}", 12, places["A"], places["B"], at(period, 2, hour))
    await record_all(db, trips)
    return period


def _ask(period: str, epsilon: float, bucket: str = "hour") -> ReleaseRequest:
    return ReleaseRequest(period, "fare-zones", bucket, (), epsilon)  # type: ignore[arg-type]


async def test_a_dp_release_is_noisy_non_negative_and_states_its_margin(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    period = await _period_with_trips(db)
    release = await load_release(db, await create_release(db, _ask(period, 0.5), "t", TEST_CONFIG))
    meta = release.metadata
    scale = TEST_CONFIG.max_trips_per_traveller / 0.5
    assert meta["noise_scale"] == scale
    assert meta["margin_of_error_95"] == margin_of_error(scale)
    counts = list(release.cells.values())
    assert len(counts) == 14
    assert all(isinstance(c, int) and c >= 0 for c in counts)
    assert counts != [12] * 14  # noise of scale 20 leaves 14 cells unchanged with p < 1e-17


def test_the_margin_of_error_holds_95_percent_of_opendp_noise() -> None:
    scale = noise_scale(epsilon=1.0, cap=10)
    margin = margin_of_error(scale)
    sampler = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )
    draws = sampler([0] * 40_000)
    inside = sum(abs(x) <= margin for x in draws) / len(draws)
    just_inside = sum(abs(x) <= margin - 1 for x in draws) / len(draws)
    assert inside >= 0.94
    assert just_inside < 0.955  # the margin is the smallest that holds 95%


def test_noise_is_clamped_to_non_negative_integers() -> None:
    noisy = add_noise([0] * 200, epsilon=0.1, cap=10)
    assert min(noisy) == 0
    assert all(isinstance(x, int) for x in noisy)


async def test_the_ledger_refuses_a_release_that_would_overspend(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    period = await _period_with_trips(db)
    await create_release(db, _ask(period, 0.6, "day"), "planner-1", TEST_CONFIG)
    with pytest.raises(BudgetExceeded):
        await create_release(db, _ask(period, 0.5, "day"), "planner-1", TEST_CONFIG)
    await create_release(db, _ask(period, 0.4, "day"), "planner-2", TEST_CONFIG)
    with pytest.raises(BudgetExceeded):
        await create_release(db, _ask(period, 0.01, "day"), "planner-2", TEST_CONFIG)
    (entry,) = [p for p in await ledger(db) if p["period"] == period]
    assert entry["spent_epsilon"] == pytest.approx(1.0)
    assert entry["remaining_epsilon"] == pytest.approx(0.0)
    assert [(r["created_by"], r["epsilon"]) for r in entry["releases"]] == [
        ("planner-1", 0.6),
        ("planner-2", 0.4),
    ]


async def test_two_concurrent_releases_cannot_both_spend_the_last_budget(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    period = await _period_with_trips(db)
    results = await asyncio.gather(
        *(create_release(db, _ask(period, 0.7, "day"), "p", TEST_CONFIG) for _ in range(2)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, BudgetExceeded) for r in results) == 1
    spent = await db.fetchval("SELECT spent_epsilon FROM flow_periods WHERE period = $1", period)
    assert float(spent) == pytest.approx(0.7)


async def test_the_database_refuses_an_overspend_whoever_writes_it(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    period = await _period_with_trips(db)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "UPDATE flow_periods SET spent_epsilon = budget_epsilon + 0.001 WHERE period = $1",
            period,
        )


async def test_an_exact_release_spends_no_epsilon_and_the_budget_does_not_limit_it(
    db: asyncpg.Pool, kuopio_demo: str
) -> None:
    # What the README says: only noisy releases spend; exact ones are k-anonymous only.
    period = await _period_with_trips(db)
    await create_release(db, _ask(period, 1.0, "day"), "p", TEST_CONFIG)
    exact = ReleaseRequest(period, "fare-zones", "day")
    release = await load_release(db, await create_release(db, exact, "p", TEST_CONFIG))
    assert (release.metadata["epsilon"], release.metadata["noise_scale"]) == (None, None)
    assert sum(release.cells.values()) == 14 * 12  # the exact counts
    (entry,) = [p for p in await ledger(db) if p["period"] == period]
    assert entry["spent_epsilon"] == pytest.approx(1.0)
    assert [r["epsilon"] for r in entry["releases"]] == [1.0, None]
