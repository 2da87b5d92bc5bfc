"""A read made in the statement that claims an Idempotency-Key (sales.idempotency.Read)."""

import uuid

import asyncpg

from sales.idempotency import Read, run_once_reading

_NUMBERS = Read("SELECT x FROM unnest($5::int[]) AS x ORDER BY x", ([2, 1],))


async def test_the_action_gets_the_rows_read_with_its_claim_and_a_repeat_replays(
    db: asyncpg.Pool,
) -> None:
    tenant, key = f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    seen: list[list[int | None]] = []

    async def action(rows: list[asyncpg.Record]) -> object:
        seen.append([r["x"] for r in rows])
        assert all(r["claimed"] for r in rows)
        return {"made": len(seen)}

    first = await run_once_reading(db, tenant, key, "fp", _NUMBERS, action)
    assert (first.body, first.replayed, seen) == ({"made": 1}, False, [[1, 2]])
    again = await run_once_reading(db, tenant, key, "fp", _NUMBERS, action)
    assert (again.body, again.replayed, seen) == ({"made": 1}, True, [[1, 2]])


async def test_a_read_that_finds_nothing_gives_one_row_of_nulls(db: asyncpg.Pool) -> None:
    nothing = Read("SELECT x FROM unnest($5::int[]) AS x", ([],))
    got: list[asyncpg.Record] = []

    async def action(rows: list[asyncpg.Record]) -> object:
        got.extend(rows)
        return None

    await run_once_reading(db, f"t-{uuid.uuid4().hex[:8]}", "k", "fp", nothing, action)
    assert [(r["claimed"], r["x"]) for r in got] == [(True, None)]
