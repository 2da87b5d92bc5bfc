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
    """A cell's trips and distinct travellers, and whether any trip is synthetic (the demo's)."""

    trips: int
    travellers: int
    synthetic: bool = False


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


def cell_sql(
    shape: Shape, zones: list[str], modes: list[str], params: Params
) -> list[tuple[str, str]]:
    """Return, per cell dimension, a record's raw value and the label template of one `{x}`.

    Dimensions: origin, destination, bucket, mode, operator. A zone or mode the grid
    does not list is labelled `_other` (or `other`), so every trip lands in some cell.
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
    """Return the GROUP BY of a release and its parameters; with a base, only its trips.

    Two hash aggregations instead of `count(DISTINCT)` (which sorts every record):
    records by cell and pseudonym, then per cell the trips summed and the pseudonyms
    counted.
    """
    params = Params()
    where = f"period = {params.add(period)} AND seq <= {params.add(cap)}"
    dims = cell_sql(shape, zones, modes, params)
    # Zones, mode and operator are labelled per record; the bucket only once grouped.
    inner = [label.format(x=raw) for raw, label in dims[:2]] + [dims[2][0]]
    inner += [label.format(x=raw) for raw, label in dims[3:]]
    labels = ", ".join(f"{expr} AS c{i}" for i, expr in enumerate(inner))
    bucket = dims[2][1].format(x="c2")
    if base is not None:
        base_dims = cell_sql(base.shape, base.zones, base.modes, params)
        base_labels = ", ".join(label.format(x=raw) for raw, label in base_dims)
        where += (
            f" AND ({base_labels}) IN (SELECT origin, destination, bucket, mode, operator "
            f"FROM flow_release_cells WHERE release_id = {params.add(base.release_id)})"
        )
    sql = f"""
        WITH per_traveller AS (
            SELECT {labels}, pseudonym, count(*) AS trips, bool_or(synthetic) AS synthetic
            FROM flow_trip_records
            WHERE {where} GROUP BY c0, c1, c2, c3, c4, pseudonym
        )
        SELECT c0, c1, {bucket} AS c2, c3, c4, sum(trips)::int AS trips,
               count(*)::int AS travellers, bool_or(synthetic) AS synthetic
        FROM per_traveller GROUP BY c0, c1, per_traveller.c2, c3, c4
    """
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
        (r["c0"], r["c1"], r["c2"], r["c3"], r["c4"]): Tally(
            r["trips"], r["travellers"], r["synthetic"]
        )
        for r in rows
    }
