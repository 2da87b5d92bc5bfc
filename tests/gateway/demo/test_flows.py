"""The trip-flows demo: a month of synthetic trips, a first release, the banner's flow map."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from flows.config import FlowsConfig
from flows.ledger import load_release
from gateway.demo.flows import (
    DEMO_TENANT,
    TRAVELLERS,
    ensure_demo_flows,
    flows_banner,
    last_closed_period,
)


async def test_the_demo_releases_a_synthetic_month_once(db: asyncpg.Pool, kuopio_demo: str) -> None:
    config = FlowsConfig()
    release_id = await ensure_demo_flows(db, config)
    assert release_id is not None
    assert await ensure_demo_flows(db, config) == release_id  # a second start reuses it
    release = await load_release(db, release_id)
    meta = release.metadata
    assert meta["period"] == last_closed_period(datetime.now(UTC), config).name
    assert meta["synthetic"] is True
    assert meta["epsilon"] == 0.5
    assert meta["cells_published"] > 10
    assert min(release.cells.values()) >= 0
    consents = await db.fetchval(
        "SELECT count(*) FROM flow_consents WHERE tenant_id = $1", DEMO_TENANT
    )
    assert consents == TRAVELLERS
    real = await db.fetchval(
        "SELECT count(*) FROM flow_trip_records WHERE period = $1 AND NOT synthetic", meta["period"]
    )
    assert real == 0

    lines = flows_banner("http://127.0.0.1:8080", "mk_planner_x", release_id)
    assert (
        f"Flow map: http://127.0.0.1:8080/map/flows#key=mk_planner_x&release={release_id}" in lines
    )
