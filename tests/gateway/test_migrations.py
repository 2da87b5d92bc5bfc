import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.migrate import list_migrations, migrate
from tests.servers import fresh_database


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, migrated=False) as url:
        yield url


async def test_migrations_apply_once_then_are_a_no_op(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert first == [m.version for m in list_migrations()]
    assert second == []
    assert [r["version"] for r in versions] == first


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    empty_database: str,
) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for c in conns:
            await c.close()
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in list_migrations()]
    assert count == len(list_migrations())


async def test_an_edited_migration_is_refused(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(Exception, match="edited after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()


def test_migration_files_are_numbered_in_order_without_repeats() -> None:
    versions = [m.version for m in list_migrations()]
    # Work done in parallel takes a block of ten numbers each (040-049, ...): gaps between
    # blocks are expected, a number used twice is not.
    assert versions == sorted(set(versions))
    assert versions[0] == 1
