"""Compiling a snapshot in a child process, so the serving process's event loop stays free.

`build_snapshot` is pandas and numpy holding the GIL for seconds on a big feed; in a
thread of the serving process it stalls every request, and so does merely parsing the
stored tables back (pandas' CSV reader holds it too: 3 s at 2.5 million stop times). The
child reads the stored feed versions from PostgreSQL itself (the tables never cross the
process boundary: on a 5-million-row feed they pickle to several times the compiled
arrays) and sends back only what the serving process uses: the snapshot, its open-data
index and the realtime trip schedules. The merged GTFS zip is written by a child of its
own when first asked for (`export_in_child`). Each job gets a fresh process, forked from a
forkserver that has the libraries imported already, so the memory of a compile is given
back to the system when it ends, and a killed child breaks only its own compile.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.queues
import os
import resource
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from logging.handlers import QueueHandler
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg

from gtfs.feed.export import gtfs_zip_bytes
from gtfs.feed.store import load_version_tables
from gtfs.realtime.schedule import TripSchedules, build_trip_schedules
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.snapshot.open_data import OpenDataIndex, build_index
from gtfs.snapshot.ship import Shipped, ship, unship
from gtfs.tables import COLUMNS, GtfsTables, concat

log = logging.getLogger(__name__)

#: How the child's connection shows in `pg_stat_activity` (followed by the child's pid).
APPLICATION_NAME = "maas-timetable-compile"
#: How much lower a child's CPU priority is than the serving process's (see `nice(2)`):
#: on a busy machine the kernel runs the requests first, the compile in what is left.
CHILD_NICENESS = 10
#: Modules the forkserver imports once, so that each forked child starts with them loaded.
PRELOAD = ["gtfs.snapshot.child"]
#: How long a child that has answered, or was killed, may take to end.
CHILD_EXIT_S = 10.0


class CompileFailed(Exception):
    """A job in a child process (a compile, an export, a publish) ended without a result."""


class FeedVersionGone(CompileFailed):
    """A feed version to compile was deleted (pruned) while the child read it."""


@dataclass(frozen=True, slots=True, eq=False)
class Compiled:
    """What the child sends back: the snapshot, its indexes, where and how long it took."""

    snapshot: Snapshot
    index: OpenDataIndex
    schedules: TripSchedules
    pid: int
    read_s: float
    build_s: float


def compile_stored(database_url: str, version_ids: Sequence[int]) -> Compiled:
    """Read the stored feed versions and compile them (runs in the child process)."""
    return asyncio.run(_compile_stored(database_url, tuple(version_ids)))


async def _compile_stored(database_url: str, version_ids: tuple[int, ...]) -> Compiled:
    started = time.perf_counter()
    tables = await _read_versions(database_url, version_ids)
    read = time.perf_counter()
    snapshot = build_snapshot(tables)
    index = build_index(tables, snapshot)
    schedules = build_trip_schedules(tables)
    return Compiled(
        snapshot, index, schedules, os.getpid(), read - started, time.perf_counter() - read
    )


def export_stored(database_url: str, version_ids: Sequence[int]) -> bytes:
    """Read the stored feed versions and write them as one GTFS zip (in the child)."""
    tables = asyncio.run(_read_versions(database_url, tuple(version_ids)))
    return gtfs_zip_bytes(tables)


async def _read_versions(database_url: str, version_ids: tuple[int, ...]) -> GtfsTables:
    async with child_pool(database_url, APPLICATION_NAME) as pool:
        return await read_versions(pool, version_ids)


def child_pool(
    database_url: str,
    application_name: str,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """Return a pool of one connection, shown in `pg_stat_activity` with the child's pid."""
    settings = {"application_name": f"{application_name} {os.getpid()}"}
    return asyncpg.create_pool(
        database_url, min_size=1, max_size=1, init=init, server_settings=settings
    )


async def read_versions(pool: asyncpg.Pool, version_ids: Sequence[int]) -> GtfsTables:
    """Read stored feed versions' tables and merge them; raise if one is gone."""
    parts = [await load_version_tables(pool, v, COLUMNS) for v in version_ids]
    # A version deleted before the read saw nothing of it: ask once read.
    found = await pool.fetch(
        "SELECT id FROM feed_versions WHERE id = ANY($1::bigint[])", list(version_ids)
    )
    gone = sorted(set(version_ids) - {r["id"] for r in found})
    if gone:
        raise FeedVersionGone(f"feed versions {gone} were deleted while being compiled")
    if not parts:
        return GtfsTables.empty()
    return parts[0] if len(parts) == 1 else concat(parts)


def peak_rss_kib() -> int:
    """Return this process's peak resident memory, KiB (VmHWM: a forked child's own peak).

    `getrusage`'s ru_maxrss (the fallback where there is no /proc) of a forked child
    starts from its parent's at the fork.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM:")), 0)


def _context() -> multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext:
    """Return the forkserver context (preloading this module), where the platform has one."""
    if (
        os.environ.get("MAAS_COMPILE_SPAWN")
        or "forkserver" not in multiprocessing.get_all_start_methods()
    ):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


async def compile_in_child(database_url: str, version_ids: Sequence[int]) -> Compiled:
    """Compile stored feed versions in a new child process; the caller's loop stays free.

    A child that raises passes its exception on; one that dies (killed, out of memory)
    raises `CompileFailed` naming its pid and exit code. Cancelling ends the child.
    """
    return await run_in_child(compile_stored, database_url, tuple(version_ids))


async def export_in_child(database_url: str, version_ids: Sequence[int]) -> bytes:
    """Return the stored feed versions as one GTFS zip, written in a new child process.

    Raises as `compile_in_child` does (`FeedVersionGone` if a version was pruned since).
    """
    return await run_in_child(export_stored, database_url, tuple(version_ids))


_T = TypeVar("_T")
#: A child's log records on their way to this process (None: the job is over).
Records = multiprocessing.queues.SimpleQueue[logging.LogRecord | None]


async def run_in_child(
    job: Callable[..., _T], *args: Any, log_fields: Mapping[str, object] | None = None
) -> _T:
    """Run `job(*args)` in a new child process and return its result; the loop stays free.

    `job` and its arguments are pickled (a module-level function; no open connections);
    its result comes back through a file mapped into this process (`ship.py`: no copy of
    its arrays while holding the GIL). The child runs at a lower CPU priority
    (`CHILD_NICENESS`). What it logs goes to this process's loggers (at this process's
    levels), each record with `log_fields` added. A child that raises passes its exception
    on; one that dies raises `CompileFailed` naming its pid and exit code. Cancelling
    kills the child.
    """
    context = _context()
    directory = tempfile.mkdtemp(prefix="maas-child-")
    records: Records = context.SimpleQueue()
    relay = threading.Thread(target=_relay, args=(records,), name="child-logs", daemon=True)
    relay.start()
    answers, answer = context.Pipe(duplex=False)
    fields = dict(log_fields or {})
    process = context.Process(
        target=_child,
        args=(answer, records, _levels(), fields, directory, job, args),
        name=f"maas-{job.__name__}",
        daemon=True,  # ends with this process: nobody would read its result
    )
    started = threading.Event()
    try:
        try:
            run = partial(_start_and_receive, process, answer, answers, started)
            outcome = await asyncio.to_thread(run)
        except asyncio.CancelledError:
            await asyncio.to_thread(_kill, process, started)
            raise
        if outcome is None:
            raise CompileFailed(
                f"the {job.__name__} process ended abruptly "
                f"(pid {process.pid} exit code {process.exitcode})"
            )
        if isinstance(outcome, _Raised):
            raise outcome.error from ChildTraceback(outcome.traceback)
        return cast("_T", await asyncio.to_thread(unship, outcome))
    finally:
        # The child wrote its records before its answer: they are all ahead of this one.
        records.put(None)
        shutil.rmtree(directory, ignore_errors=True)  # what a killed child left


class ChildTraceback(Exception):
    """Where in the child process an exception it passed on was raised (its `__cause__`)."""


@dataclass(frozen=True, slots=True)
class _Raised:
    error: BaseException
    traceback: str


def _child(
    answer: multiprocessing.connection.Connection,
    records: Records,
    levels: dict[str, int],
    fields: dict[str, object],
    directory: str,
    job: Callable[..., _T],
    args: tuple[Any, ...],
) -> None:
    """In the child: run the job, write its result to a file, and send where it is."""
    _start_child(records, levels, fields)
    try:
        outcome: Shipped | _Raised = ship(job(*args), directory, "result")
    except Exception as exc:
        outcome = _Raised(exc, traceback.format_exc())
    try:
        answer.send(outcome)  # pickled whole before a byte is written
    except Exception:
        if not isinstance(outcome, _Raised):
            raise
        # An exception that does not pickle: what it says still reaches the parent.
        answer.send(_Raised(CompileFailed(repr(outcome.error)), outcome.traceback))
    answer.close()


def _start_and_receive(
    process: multiprocessing.process.BaseProcess,
    answer: multiprocessing.connection.Connection,
    answers: multiprocessing.connection.Connection,
    started: threading.Event,
) -> Shipped | _Raised | None:
    """In a thread: start the child, wait for its answer; None when it ended without one."""
    try:
        process.start()  # and the forkserver, the first time
    finally:
        # The child now holds the only writing end: its death is this end's EOF, so this
        # thread never waits for a child that is gone.
        answer.close()
        started.set()
    try:
        outcome: Shipped | _Raised | None = answers.recv()
    except EOFError:
        outcome = None
    finally:
        answers.close()
    process.join(CHILD_EXIT_S)
    if process.is_alive():  # answered, then stuck on its way out
        _kill(process, started)
    return outcome


def _kill(process: multiprocessing.process.BaseProcess, started: threading.Event) -> None:
    """Kill a child once it has started, and wait for it to end."""
    started.wait()
    if process.pid is not None:  # None: it failed to start
        process.kill()
        process.join(CHILD_EXIT_S)


def _levels() -> dict[str, int]:
    """Return the levels set in this process: the root's ("") and each configured logger's."""
    levels = {"": logging.getLogger().getEffectiveLevel()}
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


class _Forward(QueueHandler):
    """Sends each record to the parent, with the job's fields (a SimpleQueue: no thread)."""

    def __init__(self, records: Records, fields: dict[str, object]) -> None:
        super().__init__(records)  # type: ignore[arg-type]  # put, not put_nowait: below
        self.records = records
        self.fields = fields

    def enqueue(self, record: logging.LogRecord) -> None:
        """Put the record on the queue at once: nothing is left behind when the child ends."""
        record.__dict__.update(self.fields)
        self.records.put(record)


def _start_child(records: Records, levels: dict[str, int], fields: dict[str, object]) -> None:
    """In the child: yield the CPU to the serving process; log only to it, at its levels."""
    os.nice(CHILD_NICENESS)
    logging.getLogger().handlers[:] = [_Forward(records, fields)]
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)


def _relay(records: Records) -> None:
    """In this process: hand each record of a child to the logger it was logged to.

    Ends at the job's end (None) and closes the queue's pipe. It must not die before:
    a child writing to a full pipe nobody reads would wait for ever.
    """
    while True:
        try:
            record = records.get()
        except (EOFError, OSError):  # a child killed in the middle of a record
            break
        except Exception:  # a record that does not unpickle: dropped, the next ones read
            log.exception("a log record of a child process could not be read")
            continue
        if record is None:
            break
        logging.getLogger(record.name).handle(record)
    records.close()
