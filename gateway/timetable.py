"""The timetable store: one immutable snapshot per process, rebuilt by one writer task.

A feed change anywhere (this process or another) commits a PostgreSQL
`NOTIFY maas_timetable`; every process LISTENs and wakes its writer, which reads
the current feeds back, compiles a new snapshot off the event loop and swaps it
in. Requests take `store.get()` once and read that timetable to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from gateway.appkeys import database_url_key, db_key, timetable_key
from gateway.problems import Problem
from gtfs.feed.export import gtfs_zip_bytes
from gtfs.feed.store import TIMETABLE_CHANNEL, current_version_ids, load_current
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.snapshot.geojson import network_geojson
from gtfs.snapshot.open_data import OpenDataIndex, build_index
from gtfs.tables import GtfsTables
from journeys.planner import Planner
from journeys.raptor import warm_up

log = logging.getLogger(__name__)

#: A safety net for a lost LISTEN connection: the writer also checks this often.
POLL_S = 60.0


@dataclass(frozen=True, slots=True, eq=False)
class Timetable:
    """One immutable timetable: the stored tables, the compiled snapshot, indexes, planner."""

    generation: int
    version_ids: tuple[int, ...]
    built_at: dt.datetime
    build_s: float
    tables: GtfsTables
    snapshot: Snapshot
    index: OpenDataIndex
    planner: Planner


def compile_timetable(
    generation: int, version_ids: tuple[int, ...], tables: GtfsTables
) -> Timetable:
    """Compile tables into a timetable (blocking: call it off the event loop)."""
    warm_up()  # the planner's compiled rounds: loaded from disk, or compiled once per install
    started = time.perf_counter()
    snapshot = build_snapshot(tables)
    index = build_index(tables, snapshot)
    return Timetable(
        generation=generation,
        version_ids=version_ids,
        built_at=dt.datetime.now(dt.UTC),
        build_s=time.perf_counter() - started,
        tables=tables,
        snapshot=snapshot,
        index=index,
        planner=Planner(snapshot),
    )


class TimetableStore:
    """Holds the current timetable; its writer task is the only one that replaces it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._current: Timetable | None = None
        self._wake = asyncio.Event()
        self._swapped = asyncio.Event()
        self._derived: dict[str, tuple[int, bytes]] = {}
        self._derived_locks: dict[str, asyncio.Lock] = {}
        self.last_error: str | None = None

    def find(self) -> Timetable | None:
        """Return the current timetable, or None before the first one is built."""
        return self._current

    def status(self) -> str:
        """Return "ok", "loading" (before the first build) or "failed" (the last build failed)."""
        if self.last_error is not None:
            return "failed"
        return "ok" if self._current is not None else "loading"

    def get(self) -> Timetable:
        """Return the current timetable; 503 while the first one is being built."""
        if self._current is None:
            raise Problem(
                503,
                "timetable_loading",
                "Timetable loading",
                "the timetable is being built; try again in a few seconds",
                headers={"Retry-After": "2"},
            )
        return self._current

    def request_rebuild(self) -> None:
        """Wake the writer: a feed may have changed."""
        self._wake.set()

    async def wait_for(self, predicate: Callable[[Timetable], bool], timeout_s: float) -> Timetable:
        """Wait until the current timetable satisfies `predicate` (TimeoutError after timeout_s)."""
        async with asyncio.timeout(timeout_s):
            while self._current is None or not predicate(self._current):
                swapped = self._swapped
                await swapped.wait()
        return self._current

    async def run(self) -> None:
        """Rebuild whenever woken (or every POLL_S) if the current feed versions changed."""
        generation = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            try:
                if self._current is not None:
                    versions = await current_version_ids(self._pool)
                    if versions == self._current.version_ids:
                        continue
                generation += 1
                await self._rebuild(generation)
            except Exception as exc:  # the writer must outlive any one bad build
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("timetable rebuild failed; retrying")
                await asyncio.sleep(5)
                self._wake.set()

    async def _rebuild(self, generation: int) -> None:
        """Read the current feeds, compile them off the event loop and swap the result in."""
        # Shielded: asyncpg cannot cancel a COPY cleanly (the connection is left unusable
        # and the pool's close waits for it); at shutdown the read finishes on its own.
        versions, tables = await asyncio.shield(load_current(self._pool))
        timetable = await asyncio.to_thread(compile_timetable, generation, versions, tables)
        self._current = timetable
        self.last_error = None
        swapped, self._swapped = self._swapped, asyncio.Event()
        swapped.set()
        log.info(
            "timetable swapped in",
            extra={
                "generation": generation,
                "versions": list(versions),
                "build_s": timetable.build_s,
            },
        )

    async def merged_zip(self) -> tuple[Timetable, bytes]:
        """Return the current timetable and its merged GTFS zip (built once per timetable)."""
        return await self._once_per_timetable("merged.zip", lambda t: gtfs_zip_bytes(t.tables))

    async def network_geojson(self) -> tuple[Timetable, bytes]:
        """Return the current timetable and its network as GeoJSON (built once per timetable)."""
        return await self._once_per_timetable("network.geojson", _network_geojson_bytes)

    async def _once_per_timetable(
        self, name: str, build: Callable[[Timetable], bytes]
    ) -> tuple[Timetable, bytes]:
        """Return bytes derived from the current timetable, built off the event loop once."""
        timetable = self.get()
        async with self._derived_locks.setdefault(name, asyncio.Lock()):
            cached = self._derived.get(name)
            if cached is None or cached[0] != timetable.generation:
                cached = (timetable.generation, await asyncio.to_thread(build, timetable))
                self._derived[name] = cached
            return timetable, cached[1]


def _network_geojson_bytes(timetable: Timetable) -> bytes:
    """Return the timetable's network as GeoJSON bytes, with the routes' colours."""
    routes = timetable.index.routes
    colors = dict(
        zip(
            routes["route_id"].astype(str),
            routes["route_color"].fillna("").astype(str),
            strict=True,
        )
    )
    return orjson.dumps(network_geojson(timetable.snapshot, colors))


async def timetable_store(app: web.Application) -> AsyncIterator[None]:
    """Run the writer task and LISTEN for feed changes of every gateway process."""
    store = TimetableStore(app[db_key])
    app[timetable_key] = store
    listener = await asyncpg.connect(app[database_url_key])

    def on_notify(*_: Any) -> None:
        store.request_rebuild()

    await listener.add_listener(TIMETABLE_CHANNEL, on_notify)
    writer = asyncio.create_task(store.run(), name="timetable-writer")
    store.request_rebuild()
    yield
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    await listener.close()
