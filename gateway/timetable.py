"""The timetable store: one immutable snapshot per process, rebuilt by one writer task.

A feed change anywhere (this process or another) commits a PostgreSQL
`NOTIFY maas_timetable`; every process LISTENs and wakes its writer, which reads
the current feeds back, compiles a new snapshot off the event loop and swaps it
in. Requests take `store.get()` once and read that timetable to the end.

The LISTEN connection is lost whenever PostgreSQL restarts; `FeedListener`
connects again and then wakes the writer, which rebuilds if the current feed
versions moved while nobody was listening (their notifications are gone).

The snapshot is compiled in a child process (`gtfs/snapshot/child.py`): compiling holds
the GIL for seconds on a big feed, which in a thread stalled every request, and so did
parsing the stored tables back. This process never holds the feed's tables: the child
sends back the snapshot, its open-data index and the realtime trip schedules, and the
merged zip is written by a child of its own the first time someone downloads it. A
child that fails or is killed leaves the current timetable serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import orjson
from aiohttp import web

from gateway.appkeys import database_url_key, db_key, timetable_key
from gateway.background import stop, wait_set
from gateway.listener import CHECK_S, RETRY_S, Listener
from gateway.problems import Problem
from gtfs.feed.store import TIMETABLE_CHANNEL, current_version_ids
from gtfs.realtime.read import warm_up as realtime_warm_up
from gtfs.realtime.schedule import TripSchedules, build_trip_schedules
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.snapshot.child import Compiled, FeedVersionGone, compile_in_child, export_in_child
from gtfs.snapshot.geojson import network_geojson
from gtfs.snapshot.open_data import OpenDataIndex, build_index
from gtfs.tables import GtfsTables
from journeys.planner import Planner
from journeys.reconstruct import warm_up

log = logging.getLogger(__name__)

#: A safety net for a lost LISTEN connection: the writer also checks this often.
POLL_S = 60.0
#: How the LISTEN connections show in `pg_stat_activity`.
LISTEN_APPLICATION_NAME = "maas-timetable-listen"


@dataclass(frozen=True, slots=True, eq=False)
class Timetable:
    """One immutable timetable: the compiled snapshot, its indexes, the planner."""

    generation: int
    version_ids: tuple[int, ...]
    built_at: dt.datetime
    build_s: float
    snapshot: Snapshot
    index: OpenDataIndex
    #: Each trip's scheduled times, which realtime updates are applied against.
    schedules: TripSchedules
    planner: Planner
    #: The process that compiled the snapshot (a child of the gateway's, which has gone).
    compiled_by: int


def compile_timetable(
    generation: int, version_ids: tuple[int, ...], tables: GtfsTables
) -> Timetable:
    """Compile tables into a timetable (blocking: call it off the event loop)."""
    warm_up()  # the planner's compiled rounds: loaded from disk, or compiled once per install
    started = time.perf_counter()
    snapshot = build_snapshot(tables)
    index = build_index(tables, snapshot)
    schedules = build_trip_schedules(tables)
    return Timetable(
        generation=generation,
        version_ids=version_ids,
        built_at=dt.datetime.now(dt.UTC),
        build_s=time.perf_counter() - started,
        snapshot=snapshot,
        index=index,
        schedules=schedules,
        planner=Planner(snapshot),
        compiled_by=os.getpid(),
    )


def assemble_timetable(
    generation: int, version_ids: tuple[int, ...], compiled: Compiled
) -> Timetable:
    """Wrap what a child process compiled into a timetable."""
    return Timetable(
        generation=generation,
        version_ids=version_ids,
        built_at=dt.datetime.now(dt.UTC),
        build_s=compiled.build_s,
        snapshot=compiled.snapshot,
        index=compiled.index,
        schedules=compiled.schedules,
        planner=Planner(compiled.snapshot),
        compiled_by=compiled.pid,
    )


class TimetableStore:
    """Holds the current timetable; its writer task is the only one that replaces it."""

    def __init__(self, pool: asyncpg.Pool, database_url: str, poll_s: float | None = None) -> None:
        self._pool = pool
        self._database_url = database_url
        self.poll_s = POLL_S if poll_s is None else poll_s
        self.listener: FeedListener | None = None
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
        """Rebuild whenever woken (or every `poll_s`) if the current feed versions changed."""
        generation = 0
        while True:
            await wait_set(self._wake, self.poll_s)
            self._wake.clear()
            try:
                if self._current is not None:
                    versions = await current_version_ids(self._pool)
                    if versions == self._current.version_ids:
                        # Up to date: a failed check (PostgreSQL restarting) is over.
                        self.last_error = None
                        continue
                generation += 1
                await self._rebuild(generation)
            except Exception as exc:  # the writer must outlive any one bad build
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise
                self.last_error = f"{type(exc).__name__}: {exc}"
                serving = self._current.generation if self._current else None
                log.exception(
                    "timetable rebuild failed; generation %s keeps serving, retrying in 5 s",
                    serving,
                )
                await asyncio.sleep(5)
                self._wake.set()

    async def _rebuild(self, generation: int) -> None:
        """Compile the current feeds in a child process, swap the result in."""
        await asyncio.to_thread(warm_up)  # the planner's compiled rounds, once per process
        versions = await current_version_ids(self._pool)
        compiled = await compile_in_child(self._database_url, versions)
        timetable = assemble_timetable(generation, versions, compiled)
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
                "read_s": compiled.read_s,
                "compiled_by": compiled.pid,
            },
        )
        # The TripUpdates readers, once per process; after the swap, so that their first
        # compile (tens of seconds on a fresh install) never holds the timetable back.
        await asyncio.to_thread(realtime_warm_up)

    async def merged_zip(self) -> tuple[Timetable, bytes]:
        """Return the current timetable and its merged GTFS zip (built once per timetable).

        Written in a child process from the timetable's stored versions. One pruned since
        (several newer versions were published) means a newer timetable is on its way: 503.
        """
        try:
            return await self._once_per_timetable(
                "merged.zip", lambda t: export_in_child(self._database_url, t.version_ids)
            )
        except FeedVersionGone:
            self.request_rebuild()
            raise Problem(
                503,
                "timetable_loading",
                "Timetable loading",
                "the timetable is being replaced by a newer one; try again in a few seconds",
                headers={"Retry-After": "2"},
            ) from None

    async def network_geojson(self) -> tuple[Timetable, bytes]:
        """Return the current timetable and its network as GeoJSON (built once per timetable)."""
        return await self._once_per_timetable(
            "network.geojson", lambda t: asyncio.to_thread(_network_geojson_bytes, t)
        )

    async def _once_per_timetable(
        self, name: str, build: Callable[[Timetable], Awaitable[bytes]]
    ) -> tuple[Timetable, bytes]:
        """Return bytes derived from the current timetable, built off the event loop once."""
        timetable = self.get()
        async with self._derived_locks.setdefault(name, asyncio.Lock()):
            cached = self._derived.get(name)
            if cached is None or cached[0] != timetable.generation:
                cached = (timetable.generation, await build(timetable))
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


class FeedListener(Listener):
    """The timetable's LISTEN connection: every feed change, or a reconnect, wakes the writer."""

    channel = TIMETABLE_CHANNEL
    application_name = LISTEN_APPLICATION_NAME

    def __init__(
        self,
        database_url: str,
        store: TimetableStore,
        retry_s: float = RETRY_S,
        check_s: float = CHECK_S,
    ) -> None:
        super().__init__(database_url, retry_s, check_s)
        self._store = store

    def caught_up(self) -> None:
        """Rebuild, in case feeds changed while nobody listened (the writer's poll meanwhile)."""
        self._store.request_rebuild()

    def notified(self, payload: str) -> None:
        """Rebuild: a feed changed in some process."""
        self._store.request_rebuild()


async def timetable_store(app: web.Application) -> AsyncIterator[None]:
    """Run the writer task and LISTEN for feed changes of every gateway process."""
    store = TimetableStore(app[db_key], app[database_url_key])
    app[timetable_key] = store
    store.listener = FeedListener(app[database_url_key], store)
    listener = asyncio.create_task(store.listener.run(), name="timetable-listen")
    writer = asyncio.create_task(store.run(), name="timetable-writer")
    store.request_rebuild()
    yield
    await stop(listener, writer)
