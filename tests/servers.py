"""The PostgreSQL and Redis the tests run against: the environment's servers, or embedded ones.

`MAAS_TEST_DATABASE_URL` names a server on which each run creates a fresh
database and drops it afterwards; `MAAS_TEST_REDIS_URL` a Redis whose keys each
test namespaces with a prefix of its own. Without them, both are embedded.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway import embedded
from gateway.migrate import migrate


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _create(admin_url: str, name: str, migrated: bool) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    if not migrated:
        return
    conn = await asyncpg.connect(_with_database(admin_url, name))
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _drop(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def fresh_database(workdir: Path, migrated: bool = True) -> Iterator[str]:
    """Yield the URL of a new (by default migrated) database that is dropped afterwards."""
    admin_url = os.environ.get("MAAS_TEST_DATABASE_URL") or embedded.start_postgres(workdir)
    name = f"maas_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create(admin_url, name, migrated))
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_drop(admin_url, name))


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Yield the URL of the environment's Redis, or of an embedded one."""
    url = os.environ.get("MAAS_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = embedded.start_redis(workdir)
    try:
        yield server.url
    finally:
        server.stop()
