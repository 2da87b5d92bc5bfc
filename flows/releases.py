"""Releases: a closed period's trips counted on a grid, k-anonymous, optionally with DP noise.

One transaction per release holds the period's row lock, so releases of one
period are made one at a time: the budget check, the spend and the cells are
one atomic step (and the CHECK on `flow_periods` refuses an overspend even if
a caller forgot the lock). The first release of a period fixes which trips
every later one counts; a later release whose cells would hold 1 to k-1 of
those trips is refused, since the difference with an earlier one would reveal
them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from flows import privacy
from flows.aggregate import Cell, Shape, Tally, any_synthetic, delete_unpublished, tally
from flows.config import FlowsConfig
from flows.errors import (
    BudgetExceeded,
    InconsistentRelease,
    PeriodNotClosed,
    PeriodPurged,
    ReleaseTooLarge,
    ZoneSystemTooNew,
)
from flows.grid import ALL, Bucket, Dimension, Grid, bucket_labels
from flows.modes import mode_of
from flows.periods import Period, ensure_period, parse_period
from flows.records import MULTIMODAL, SEVERAL_OPERATORS
from flows.zones import OTHER, Zone, find_zone_system_created, list_zones


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """What a planner asks for."""

    period: str
    zone_system: str
    bucket: Bucket
    breakdown: tuple[Dimension, ...] = ()
    epsilon: float | None = None


async def network_modes(conn: asyncpg.Connection) -> list[str]:
    """Return the modes of the current timetables, `other` and `multimodal`."""
    types = await conn.fetch(
        "SELECT DISTINCT r.route_type FROM gtfs_routes r "
        "JOIN feed_versions v ON v.id = r.feed_version_id AND v.is_current"
    )
    return [*sorted({mode_of(r["route_type"]) for r in types} | {"other"}), MULTIMODAL]


async def _grid(
    conn: asyncpg.Connection, request: ReleaseRequest, period: Period, zones: list[Zone]
) -> Grid:
    modes = await network_modes(conn) if "mode" in request.breakdown else [ALL]
    operators = [ALL]
    if "operator" in request.breakdown:
        ids = await conn.fetch("SELECT id FROM operators ORDER BY id")
        operators = [r["id"] for r in ids] + [SEVERAL_OPERATORS]
    return Grid(
        tuple(z.id for z in zones),
        tuple(bucket_labels(request.bucket, period)),
        tuple(modes),
        tuple(operators),
    )


async def _lock_period(
    conn: asyncpg.Connection, period: Period, config: FlowsConfig, now: datetime
) -> asyncpg.Record:
    lock = "SELECT * FROM flow_periods WHERE period = $1 FOR UPDATE"
    row = await conn.fetchrow(lock, period.name)
    if row is None:  # a period nobody travelled in: its release shows every cell suppressed
        await ensure_period(conn, period, config)
        row = await conn.fetchrow(lock, period.name)
    if now < period.ends_at + config.close_after:
        closes = (period.ends_at + config.close_after).isoformat()
        raise PeriodNotClosed(f"period {period.name} can be released from {closes}")
    if row["purged_at"] is not None:
        raise PeriodPurged(f"the trip records of {period.name} were deleted after retention")
    # Without the key a withdrawal or an erasure can no longer find its traveller's records,
    # so a later release could count someone who has left: the period is over for releases.
    if row["key_destroyed_at"] is not None:
        raise PeriodPurged(
            f"the pseudonym key of {period.name} was destroyed, so withdrawals and erasures "
            "can no longer reach its trip records: it takes no more releases"
        )
    return row


def _check_budget(row: asyncpg.Record, epsilon: float | None) -> None:
    if epsilon is None:
        return
    left = row["budget_epsilon"] - row["spent_epsilon"]
    if Decimal(str(epsilon)) > left:
        raise BudgetExceeded(
            f"epsilon {epsilon} exceeds what period {row['period']} has left ({left})"
        )


def _published(tallies: dict[Cell, Tally], k: int, first: bool) -> dict[Cell, int]:
    small = [cell for cell, t in tallies.items() if not t.k_anonymous]
    if not first and small:
        raise InconsistentRelease(
            f"{len(small)} cells would hold between 1 and {k - 1} travellers of the trips this "
            "period's earlier releases published (a finer bucket, zone system or breakdown "
            "than theirs, or an erasure since): the difference would reveal them"
        )
    return {cell: t.trips for cell, t in tallies.items() if t.k_anonymous}


# The release and its spend in the ledger, one statement (one round trip).
_STORE_RELEASE = """
WITH release AS (
    INSERT INTO flow_releases (id, period, zone_system, bucket, breakdown, k, epsilon,
        noise_scale, margin_of_error_95, max_trips_per_traveller, zones, buckets, modes,
        operators, cells_total, cells_published, cells_suppressed, synthetic, created_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19)
    RETURNING id, period, coalesce(epsilon, 0) AS epsilon
)
UPDATE flow_periods p SET spent_epsilon = p.spent_epsilon + r.epsilon,
    base_release_id = coalesce(p.base_release_id, r.id),
    released_at = coalesce(p.released_at, now())
FROM release r WHERE p.period = r.period
"""


@dataclass(frozen=True, slots=True)
class Made:
    """What a release computed, before it is stored."""

    cells: dict[Cell, int]
    grid: Grid
    zones: list[Zone]
    synthetic: bool


async def _compute(
    conn: asyncpg.Connection,
    request: ReleaseRequest,
    period: Period,
    row: asyncpg.Record,
    config: FlowsConfig,
) -> Made:
    created = await find_zone_system_created(conn, request.zone_system)
    if created is not None and created > period.starts_at:
        raise ZoneSystemTooNew(
            f"zone system {request.zone_system!r} was uploaded after {period.name} began: "
            "trips recorded before then carry no district"
        )
    zones = await list_zones(conn, request.zone_system)
    grid = await _grid(conn, request, period, zones)
    if grid.size > config.max_cells:
        raise ReleaseTooLarge(
            f"{grid.size} cells is more than {config.max_cells}: choose a coarser zone "
            "system, bucket or breakdown"
        )
    shape = Shape(request.zone_system, request.bucket, request.breakdown)
    first = row["base_release_id"] is None
    real = [z for z in grid.zones if z != OTHER]
    modes = [m for m in grid.modes if m != ALL]
    cap = config.max_trips_per_traveller
    # Before the tally: the first release deletes what it does not publish, synthetic or not.
    synthetic = await any_synthetic(conn, period.name, cap)
    tallies = await tally(conn, period.name, cap, config.k, shape, real, modes)
    published = _published(tallies, config.k, first)
    if first:
        suppressed = [cell for cell, t in tallies.items() if not t.k_anonymous]
        await delete_unpublished(conn, period.name, cap, shape, real, modes, suppressed)
    return Made(published, grid, zones, synthetic)


def _noisy(cells: dict[Cell, int], epsilon: float | None, cap: int) -> dict[Cell, int]:
    if epsilon is None:
        return cells
    keys = list(cells)
    return dict(zip(keys, privacy.add_noise([cells[c] for c in keys], epsilon, cap), strict=True))


async def _store(
    conn: asyncpg.Connection,
    release_id: uuid.UUID,
    request: ReleaseRequest,
    made: Made,
    created_by: str,
    config: FlowsConfig,
) -> None:
    """Write the release, its published cells (noisy with epsilon) and the ledger's spend."""
    cap = config.max_trips_per_traveller
    cells = _noisy(made.cells, request.epsilon, cap)
    scale = None if request.epsilon is None else privacy.noise_scale(request.epsilon, cap)
    epsilon = None if request.epsilon is None else Decimal(str(request.epsilon))
    await conn.execute(
        _STORE_RELEASE,
        release_id,
        request.period,
        request.zone_system,
        request.bucket,
        list(request.breakdown),
        config.k,
        epsilon,
        scale,
        None if scale is None else privacy.margin_of_error(scale),
        cap,
        [z.as_json() for z in made.zones],
        list(made.grid.buckets),
        list(made.grid.modes),
        list(made.grid.operators),
        made.grid.size,
        len(cells),
        made.grid.size - len(cells),
        made.synthetic,
        created_by,
    )
    await conn.copy_records_to_table(
        "flow_release_cells",
        records=[(release_id, *cell, count) for cell, count in cells.items()],
        columns=["release_id", "origin", "destination", "bucket", "mode", "operator", "count"],
    )


async def create_release(
    pool: asyncpg.Pool, request: ReleaseRequest, created_by: str, config: FlowsConfig
) -> uuid.UUID:
    """Make, store and account for one release; return its id."""
    period = parse_period(request.period, config.timezone)
    release_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock_period(conn, period, config, datetime.now(UTC))
        _check_budget(row, request.epsilon)
        # asyncpg prepares every statement; after five runs PostgreSQL may keep a generic
        # plan, which knows neither the period's partition nor its rows (and was slower).
        await conn.execute(
            f"SET LOCAL work_mem = '{int(config.work_mem_mb)}MB'; "
            "SET LOCAL plan_cache_mode = force_custom_plan"
        )
        made = await _compute(conn, request, period, row, config)
        await _store(conn, release_id, request, made, created_by, config)
    return release_id


async def list_releases(pool: asyncpg.Pool, period: str | None = None) -> list[dict[str, Any]]:
    """Return every release's metadata (no cells), newest first."""
    rows = await pool.fetch(
        "SELECT * FROM flow_releases WHERE ($1::text IS NULL OR period = $1) "
        "ORDER BY created_at DESC, id",
        period,
    )
    return [release_metadata(r) for r in rows]


def release_metadata(row: asyncpg.Record) -> dict[str, Any]:
    """Return a release's parameters and counts as plain data (no zones, no cells)."""
    data = {k: row[k] for k in row.keys() if k not in ("zones",)}  # noqa: SIM118
    data["epsilon"] = None if row["epsilon"] is None else float(row["epsilon"])
    return data
