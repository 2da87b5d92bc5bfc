"""The timetable snapshot is compiled in a child process (issue 14, defect 5).

A compile is held "in progress" by synchronisation, never by waiting: the test locks
`gtfs_shapes` (the feeds stored here have no shapes, so storing one does not touch it),
and the child's read of the feed then waits on that lock, where `pg_stat_activity`
shows it with its pid in its application name.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import signal
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import gtfs.feed.store
from gateway.appkeys import timetable_key
from gateway.background import stop
from gateway.problems import Problem
from gateway.timetable import TimetableStore
from gtfs.feed.prepare import prepare_feed
from gtfs.feed.store import current_version_ids, store_feed
from gtfs.snapshot.child import APPLICATION_NAME, FeedVersionGone, compile_in_child
from tests.timetable_data import synthetic_feed

Client = TestClient[web.Request, web.Application]


async def _store(pool: asyncpg.Pool, folder: Path, operator_id: str, trips: int) -> int:
    """Store a small synthetic feed of its own operator; return its version id."""
    await pool.execute(
        "INSERT INTO operators (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", operator_id
    )
    feed = synthetic_feed(folder / f"{operator_id}-{trips}.zip", trips, 5)
    prepared = await asyncio.to_thread(prepare_feed, feed, operator_id)
    return (await store_feed(pool, prepared)).version_id


@contextlib.asynccontextmanager
async def _reads_held(database_url: str) -> AsyncIterator[None]:
    """Hold every read of the stored feeds (a lock on gtfs_shapes) until the block ends."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE gtfs_shapes IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


async def _compiling_pid(pool: asyncpg.Pool) -> int:
    """Wait until a compile child waits on the held lock; return its pid.

    Asked on a connection of its own: inside the lock's transaction, pg_stat_activity
    would keep showing what it showed first.
    """
    async with asyncio.timeout(60):
        while True:
            name = await pool.fetchval(
                "SELECT application_name FROM pg_stat_activity"
                " WHERE application_name LIKE $1 AND wait_event_type = 'Lock'",
                f"{APPLICATION_NAME} %",
            )
            if name is not None:
                return int(name.rsplit(" ", 1)[1])
            await asyncio.sleep(0.05)


def _operator() -> str:
    return f"child{uuid.uuid4().hex[:6]}"


async def test_requests_are_answered_while_a_child_process_compiles(
    client: Client, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    store = client.app[timetable_key]
    await store.wait_for(lambda _t: True, 120)
    operator_id = _operator()
    async with _reads_held(database_url):
        version = await _store(db, tmp_path, operator_id, 3)  # wakes the app's writer
        pid = await _compiling_pid(db)
        # The compile is in progress (its child waits on the lock): the loop answers.
        assert pid != os.getpid()
        assert (await client.get("/health")).status == 200
        resp = await client.get("/v1/stops", params={"limit": "1"})
        assert resp.status == 200
        current = store.find()
        assert current is not None
        assert version not in current.version_ids
    timetable = await store.wait_for(lambda t: version in t.version_ids, 120)
    assert timetable.compiled_by == pid
    assert f"{operator_id}:s0" in timetable.snapshot.stops.index


async def test_a_killed_compile_is_logged_and_the_old_timetable_keeps_serving(
    db: asyncpg.Pool, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    operator_id = _operator()
    first = await _store(db, tmp_path, operator_id, 3)
    store = TimetableStore(db, database_url, poll_s=3600)
    writer = asyncio.create_task(store.run())
    try:
        store.request_rebuild()
        old = await store.wait_for(lambda t: first in t.version_ids, 120)
        async with _reads_held(database_url):
            second = await _store(db, tmp_path, operator_id, 4)
            store.request_rebuild()
            pid = await _compiling_pid(db)
            os.kill(pid, signal.SIGKILL)
            async with asyncio.timeout(60):
                while store.last_error is None:  # noqa: ASYNC110 - the writer's state, no event
                    await asyncio.sleep(0.05)
            assert f"pid {pid} exit code -9" in store.last_error
            assert store.find() is old
            assert store.status() == "failed"
        failed = [r for r in caplog.records if "keeps serving" in r.getMessage()]
        assert failed
        assert f"generation {old.generation} keeps serving" in failed[0].getMessage()
        # The writer tries again, and the next child compiles the new feed.
        new = await store.wait_for(lambda t: second in t.version_ids, 120)
        assert new.compiled_by not in (pid, os.getpid())
        assert store.status() == "ok"
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def test_a_child_that_raises_passes_its_error_on(database_url: str, db: asyncpg.Pool) -> None:
    missing = int(await db.fetchval("SELECT coalesce(max(id), 0) + 1000 FROM feed_versions"))
    versions = await current_version_ids(db)
    with pytest.raises(FeedVersionGone, match=f"feed versions \\[{missing}\\] were deleted"):
        await compile_in_child(database_url, (*versions, missing))


async def test_the_serving_process_parses_no_stored_table(
    db: asyncpg.Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing a stored stop_times back holds the GIL for seconds on a big feed: the child
    # sends the realtime schedules with the snapshot, and the merged zip has a child too.
    parsed: list[object] = []
    monkeypatch.setattr(gtfs.feed.store, "_parse_copied", lambda *a: parsed.append(a))
    operator_id = _operator()
    version = await _store(db, tmp_path, operator_id, 3)
    store = TimetableStore(db, database_url, poll_s=3600)
    writer = asyncio.create_task(store.run())
    try:
        store.request_rebuild()
        timetable = await store.wait_for(lambda t: version in t.version_ids, 120)
        trips = [t for t in timetable.schedules.trip_ids if t.startswith(f"{operator_id}:")]
        assert len(trips) == 3
        served, data = await store.merged_zip()
        assert served is timetable
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            stop_times = archive.read("stop_times.txt").decode()
        rows = [r for r in stop_times.splitlines() if r.startswith(f"{operator_id}:t")]
        assert len(rows) == 3 * 5
        assert parsed == []
    finally:
        await stop(writer)


async def test_a_merged_zip_of_a_pruned_version_is_503_and_asks_for_a_rebuild(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    version = await _store(db, tmp_path, _operator(), 3)
    store = TimetableStore(db, database_url, poll_s=3600)
    writer = asyncio.create_task(store.run())
    try:
        store.request_rebuild()
        timetable = await store.wait_for(lambda t: version in t.version_ids, 120)
        missing = int(await db.fetchval("SELECT max(id) + 1000 FROM feed_versions"))
        # As if the versions it was built from were pruned before anyone downloaded it.
        store._current = dataclasses.replace(timetable, version_ids=(missing,))
        with pytest.raises(Problem) as raised:
            await store.merged_zip()
        assert raised.value.status == 503
        assert raised.value.code == "timetable_loading"
        assert store._wake.is_set()
    finally:
        await stop(writer)
