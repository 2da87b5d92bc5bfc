"""Aggregation in PostgreSQL: one statement over a period's partition of the trip records.

Every cell counts trips, at most `cap` per traveller (a record's ordinal `seq`
within its pseudonym and period), and is published when it holds at least k
distinct travellers. Counting distinct travellers for every cell is what makes
a release slow (a hash entry per traveller and cell, or a sort of every
record), and most cells do not need it: a cell of fewer than k trips has fewer
than k travellers, and one of at least `k * cap` trips has at least k, since no
traveller adds more than `cap`. So the statement groups the records by their
raw values (text, integers; a plain GROUP BY), labels the few thousand groups
and sums them into cells, and counts travellers only in the cells between
those bounds, joining back to just their records.

The first release of a period fixes the trips every later one counts: right
after the tally, in the same transaction, it deletes the records it did not
publish (in its suppressed cells, or beyond the cap). No later release may
count them, so keeping them would serve nothing, and every later release then
partitions the same trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from flows.grid import ALL, Bucket, Dimension, bucket_sql
from flows.zones import OTHER, zone_sql

Cell = tuple[str, str, str, str, str]
_CELL = "c0, c1, c2, c3, c4"


@dataclass(frozen=True, slots=True)
class Shape:
    """How records map to cells: zone system, bucket and the breakdown by mode or operator."""

    zone_system: str
    bucket: Bucket
    breakdown: tuple[Dimension, ...]


@dataclass(frozen=True, slots=True)
class Tally:
    """A cell's trips and whether it holds at least k travellers."""

    trips: int
    k_anonymous: bool


def _in(expr: str, param: str, fallback: str) -> str:
    return f"CASE WHEN {expr} = ANY({param}::text[]) THEN {expr} ELSE '{fallback}' END"


class Params:
    """Numbered query parameters, added as the SQL that uses them is written."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        """Return the placeholder of a new parameter."""
        self.values.append(value)
        return f"${len(self.values)}"


def cell_sql(
    shape: Shape, zones: list[str], modes: list[str], params: Params
) -> list[tuple[str, str]]:
    """Return, per cell dimension, a record's raw value and the label template of one `{x}`.

    Dimensions: origin, destination, bucket, mode, operator. A zone or mode the grid
    does not list is labelled `_other` (or `other`), so every trip lands in some cell.
    Labels are functions of the raw values, so they are applied to grouped values only.
    """
    origin, destination, label = zone_sql(shape.zone_system)
    zone_param = params.add(zones)
    zone_label = _in(label, zone_param, OTHER)
    bucket, bucket_label = bucket_sql(shape.bucket)
    mode = (f"'{ALL}'", "{x}")
    if "mode" in shape.breakdown:
        mode = ("mode_key", _in("{x}", params.add(modes), "other"))
    operator = ("operator_key", "{x}") if "operator" in shape.breakdown else (f"'{ALL}'", "{x}")
    return [(origin, zone_label), (destination, zone_label), (bucket, bucket_label), mode, operator]


def tally_sql(
    period: str, cap: int, k: int, shape: Shape, zones: list[str], modes: list[str]
) -> tuple[str, list[object]]:
    """Return the statement that tallies a release's cells, and its parameters."""
    params = Params()
    cap_p = params.add(cap)
    period_p = params.add(period)
    where = f"period = {period_p} AND seq <= {cap_p}"
    k_p = params.add(k)
    dims = cell_sql(shape, zones, modes, params)
    # Only dimensions that vary are grouped on (a constant key still costs a hash per record),
    # as r0, r1, ...; a constant one is its own label.
    grouped = [raw for raw, _ in dims if not raw.startswith("'")]
    raw_cols = ", ".join(f"{raw} AS r{i}" for i, raw in enumerate(grouped))
    names = iter(range(len(grouped)))
    labels = ", ".join(
        f"{label.format(x=raw if raw.startswith(chr(39)) else f'r{next(names)}')} AS c{i}"
        for i, (raw, label) in enumerate(dims)
    )
    join = " AND ".join(f"{raw} = u.r{i}" for i, raw in enumerate(grouped))
    numbers = ", ".join(str(i + 1) for i in range(len(grouped)))
    sql = f"""
        WITH raw AS MATERIALIZED (
            SELECT {raw_cols}, count(*)::int AS trips
            FROM flow_trip_records WHERE {where} GROUP BY {numbers}
        ),
        labelled AS MATERIALIZED (SELECT raw.*, {labels} FROM raw),
        cells AS MATERIALIZED (
            SELECT row_number() OVER () AS id, {_CELL}, sum(trips)::int AS trips
            FROM labelled GROUP BY {_CELL}
        ),
        unsure AS (
            SELECT l.*, c.id FROM labelled l JOIN cells c USING ({_CELL})
            WHERE c.trips >= {k_p} AND c.trips < {k_p} * {cap_p}
        ),
        counted AS (
            SELECT u.id, count(DISTINCT pseudonym)::int AS travellers
            FROM flow_trip_records JOIN unsure u ON {join}
            WHERE {where} GROUP BY u.id
        ),
        decided AS (
            SELECT {_CELL}, c.trips,
                c.trips >= {k_p} * {cap_p} OR coalesce(n.travellers >= {k_p}, false)
                AS k_anonymous
            FROM cells c LEFT JOIN counted n USING (id)
        )
        SELECT * FROM decided
    """
    return sql, params.values


async def tally(
    conn: asyncpg.Connection,
    period: str,
    cap: int,
    k: int,
    shape: Shape,
    zones: list[str],
    modes: list[str],
) -> dict[Cell, Tally]:
    """Return the trips of every non-empty cell and whether it is k-anonymous."""
    sql, args = tally_sql(period, cap, k, shape, zones, modes)
    rows = await conn.fetch(sql, *args)
    return {
        (r["c0"], r["c1"], r["c2"], r["c3"], r["c4"]): Tally(r["trips"], r["k_anonymous"])
        for r in rows
    }


async def any_synthetic(conn: asyncpg.Connection, period: str, cap: int) -> bool:
    """Tell whether any trip a release of the period counts is synthetic (made by the demo)."""
    # A partial index holds only synthetic records: none in production, so this costs nothing.
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM flow_trip_records "
        "WHERE period = $1 AND synthetic AND seq <= $2)",
        period,
        cap,
    )
    return found


async def delete_unpublished(
    conn: asyncpg.Connection,
    period: str,
    cap: int,
    shape: Shape,
    zones: list[str],
    modes: list[str],
    suppressed: list[Cell],
) -> int:
    """Delete the records a first release does not publish (suppressed, beyond the cap)."""
    # A statement of its own, not a CTE of the tally: a statement that writes runs without
    # parallel workers, and there is usually nothing to delete at all.
    beyond_cap = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM flow_trip_counts WHERE period = $1 AND trips > $2)",
        period,
        cap,
    )
    if not suppressed and not beyond_cap:
        return 0
    params = Params()
    cap_p, period_p = params.add(cap), params.add(period)
    dims = cell_sql(shape, zones, modes, params)
    # Constant dimensions are the same in every cell; the others are matched by label.
    varying = [i for i, (raw, _) in enumerate(dims) if not raw.startswith("'")]
    labels = ", ".join(dims[i][1].format(x=dims[i][0]) for i in varying)
    cells = ", ".join(f"{params.add([c[i] for c in suppressed])}::text[]" for i in varying)
    status = await conn.execute(
        f"""DELETE FROM flow_trip_records WHERE period = {period_p}
            AND (seq > {cap_p} OR ({labels}) IN (SELECT * FROM unnest({cells})))""",
        *params.values,
    )
    return int(status.split()[-1])
