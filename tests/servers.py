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


class PrivatePostgres:
    """A PostgreSQL server of one test's own (pgserver), which the test stops and starts."""

    def __init__(self, pgdata: Path) -> None:
        import pgserver

        self.pgdata = pgdata
        self.server = pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="delete"
        )
        self.admin_url: str = self.server.get_uri()
        self.url = self.admin_url

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions are terminated; `immediate`: a crash)."""
        from pgserver import _commands

        _commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        """Start the stopped server again, on the same socket."""
        self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.admin_url

    def close(self) -> None:
        """Stop the server and delete its data."""
        self.server.cleanup()


@contextmanager
def private_postgres(workdir: Path) -> Iterator[PrivatePostgres]:
    """Yield a private PostgreSQL server with a migrated database `maas` (URL in `.url`)."""
    server = PrivatePostgres(workdir / "private-pg")
    try:
        asyncio.run(_create(server.admin_url, "maas", migrated=True))
        server.url = _with_database(server.admin_url, "maas")
        yield server
    finally:
        server.close()
