"""The ledger: per period its budget, what releases spent, and who released what and when."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import asyncpg

from flows.aggregate import Cell
from flows.errors import ReleaseNotFound
from flows.releases import release_metadata


async def ledger(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Return every period with its budget and the releases that spent it, oldest first."""
    periods = await pool.fetch(
        "SELECT period, budget_epsilon, spent_epsilon, released_at, key_destroyed_at, purged_at "
        "FROM flow_periods ORDER BY period"
    )
    releases = await pool.fetch("SELECT * FROM flow_releases ORDER BY created_at, id")
    entries: dict[str, list[dict[str, Any]]] = {}
    for row in releases:
        entries.setdefault(row["period"], []).append(release_metadata(row))
    return [
        {
            "period": p["period"],
            "budget_epsilon": float(p["budget_epsilon"]),
            "spent_epsilon": float(p["spent_epsilon"]),
            "remaining_epsilon": float(p["budget_epsilon"] - p["spent_epsilon"]),
            "first_released_at": p["released_at"],
            "key_destroyed_at": p["key_destroyed_at"],
            "records_purged_at": p["purged_at"],
            "releases": entries.get(p["period"], []),
        }
        for p in periods
    ]


@dataclass(frozen=True, slots=True)
class ReleaseData:
    """A stored release: parameters, the zones it was made on, its published cells."""

    metadata: dict[str, Any]
    zones: list[dict[str, Any]]
    cells: dict[Cell, int]

    def grid(self) -> Iterator[Cell]:
        """Return every cell of the grid, in order."""
        meta = self.metadata
        ids = [z["id"] for z in self.zones]
        return product(ids, ids, meta["buckets"], meta["modes"], meta["operators"])

    def every_cell(self) -> list[tuple[Cell, int | None]]:
        """Return every cell of the grid, in order, with None for a suppressed one."""
        get = self.cells.get
        return [(cell, get(cell)) for cell in self.grid()]


async def load_release(pool: asyncpg.Pool, release_id: uuid.UUID) -> ReleaseData:
    """Return a release with its cells (ReleaseNotFound when there is none)."""
    row = await pool.fetchrow("SELECT * FROM flow_releases WHERE id = $1", release_id)
    if row is None:
        raise ReleaseNotFound(f"release {release_id} does not exist")
    cells = await pool.fetch(
        "SELECT origin, destination, bucket, mode, operator, count FROM flow_release_cells "
        "WHERE release_id = $1",
        release_id,
    )
    return ReleaseData(
        release_metadata(row),
        list(row["zones"]),
        {(c[0], c[1], c[2], c[3], c[4]): c[5] for c in cells},
    )
