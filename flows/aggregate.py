"""Aggregation in PostgreSQL: one GROUP BY over a period's partition of the trip records.

Every cell counts trips (at most `cap` per traveller: a record's ordinal `seq`
within its pseudonym and period) and distinct pseudonyms. Later releases of a
period count only the trips the period's first release published (the trips
of its cells of at least k travellers), so every release partitions the same
trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from flows.grid import ALL, Bucket, Dimension, bucket_sql
from flows.zones import OTHER, zone_sql

Cell = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Shape:
    """How records map to cells: zone system, bucket and the breakdown by mode or operator."""

    zone_system: str
    bucket: Bucket
    breakdown: tuple[Dimension, ...]


@dataclass(frozen=True, slots=True)
class Tally:
    """A cell's trips and distinct travellers."""

    trips: int
    travellers: int


def _in(expr: str, param: str, fallback: str) -> str:
    # `IN (SELECT unnest(...))` is planned as a hashed subplan: one lookup per row.
    return f"CASE WHEN {expr} IN (SELECT unnest({param}::text[])) THEN {expr} ELSE '{fallback}' END"


class Params:
    """Numbered query parameters, added as the SQL that uses them is written."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        """Return the placeholder of a new parameter."""
        self.values.append(value)
        return f"${len(self.values)}"


def cell_sql(shape: Shape, zones: list[str], modes: list[str], params: Params) -> list[str]:
    """Return the SQL of a record's cell: origin, destination, bucket, mode, operator."""
    origin, destination = zone_sql(shape.zone_system)
    zone_param = params.add(zones)
    mode = f"'{ALL}'"
    if "mode" in shape.breakdown:
        mode = _in("mode_key", params.add(modes), "other")
    return [
        _in(origin, zone_param, OTHER),
        _in(destination, zone_param, OTHER),
        bucket_sql(shape.bucket),
        mode,
        "operator_key" if "operator" in shape.breakdown else f"'{ALL}'",
    ]


@dataclass(frozen=True, slots=True)
class BaseRef:
    """The period's first release, which fixes the trips every later release counts."""

    release_id: object
    shape: Shape
    zones: list[str]
    modes: list[str]


def tally_sql(
    period: str, cap: int, shape: Shape, zones: list[str], modes: list[str], base: BaseRef | None
) -> tuple[str, list[object]]:
    """Return the GROUP BY of a release and its parameters; with a base, only its trips."""
    params = Params()
    where = f"period = {params.add(period)} AND seq <= {params.add(cap)}"
    cells = cell_sql(shape, zones, modes, params)
    if base is not None:
        base_cells = ", ".join(cell_sql(base.shape, base.zones, base.modes, params))
        where += (
            f" AND ({base_cells}) IN (SELECT origin, destination, bucket, mode, operator "
            f"FROM flow_release_cells WHERE release_id = {params.add(base.release_id)})"
        )
    columns = ", ".join(f"{expr} AS c{i}" for i, expr in enumerate(cells))
    sql = (
        "SELECT c0, c1, c2, c3, c4, count(*)::int AS trips, "
        "count(DISTINCT pseudonym)::int AS travellers "
        f"FROM (SELECT {columns}, pseudonym FROM flow_trip_records WHERE {where}) t "
        "GROUP BY c0, c1, c2, c3, c4"
    )
    return sql, params.values


async def tally(
    conn: asyncpg.Connection,
    period: str,
    cap: int,
    shape: Shape,
    zones: list[str],
    modes: list[str],
    base: BaseRef | None,
) -> dict[Cell, Tally]:
    """Return the trips and travellers of every non-empty cell."""
    sql, args = tally_sql(period, cap, shape, zones, modes, base)
    rows = await conn.fetch(sql, *args)
    return {
        (r["c0"], r["c1"], r["c2"], r["c3"], r["c4"]): Tally(r["trips"], r["travellers"])
        for r in rows
    }
