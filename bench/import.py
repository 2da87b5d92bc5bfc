"""Import benchmark: validate + store vilnius.zip (445,217 stop_times), build its snapshot.

Runs against a real PostgreSQL (`MAAS_TEST_DATABASE_URL`, default
postgresql://postgres@127.0.0.1:5432/test) in a scratch database it creates and
drops. Prints medians of a few runs next to references measured in the same
run: a raw `COPY` of the stop_times CSV bytes into a bare table, and a plain
pandas `read_csv` of the same file. Each run times the reference COPY and then
validate + store (`prepare_feed` and `store_feed`, the real path), so the ratio
of each pair is taken under the same load; `validate_and_store_per_copy` is the
median of those ratios. Never asserts a time.

Then the peak memory of the real import paths, each in a fresh process:
`maas import-gtfs` (as `/usr/bin/time` reports it) and the publishing child of a
`maas serve` that the feed is uploaded to (the child's own VmHWM, from its log line).

    .venv/bin/python bench/import.py [--runs 3] [--feed PATH] [--memory-runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import statistics
import sys
import time
import tracemalloc
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_paths import cli_peaks_kib, upload_peaks_kib

from gateway.migrate import migrate
from gateway.timetable import compile_timetable
from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import load_current, load_current_tables, store_feed
from gtfs.feed.validate.archive import validate_zip
from gtfs.snapshot.build import build_snapshot
from gtfs.snapshot.child import peak_rss_kib

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FEED = ROOT.parent / "shared" / "data" / "gtfs" / "vilnius.zip"
T = TypeVar("T")


def _url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path="/" + name))


async def _timed(fn: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    start = time.perf_counter()
    result = await fn()
    return time.perf_counter() - start, result


def _peak_mib(fn: Callable[[], Any]) -> float:
    """Return the peak traced allocation of `fn` (Python objects and numpy arrays), MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def _reference_copy(pool: asyncpg.Pool, feed: Path) -> float:
    """Time a bare COPY of the stop_times CSV bytes into a table of text columns."""
    with zipfile.ZipFile(feed) as zf:
        data = zf.read("stop_times.txt").decode("utf-8-sig").encode()
    header = data.split(b"\n", 1)[0].decode().strip().split(",")
    async with pool.acquire() as conn:
        columns = ", ".join(f"{c} text" for c in header)
        await conn.execute(
            f"DROP TABLE IF EXISTS ref_stop_times; CREATE TABLE ref_stop_times ({columns})"
        )
        start = time.perf_counter()
        await conn.copy_to_table(
            "ref_stop_times", source=io.BytesIO(data), format="csv", header=True
        )
        return time.perf_counter() - start


async def _store_once(pool: asyncpg.Pool, prepared: PreparedFeed) -> float:
    seconds, stored = await _timed(lambda: store_feed(pool, prepared))
    await pool.execute("DELETE FROM feed_versions WHERE id = $1", stored.version_id)
    return seconds


def _rss_mib() -> float:
    """Return this process's peak RSS, MiB (VmHWM: unlike ru_maxrss, not inherited over fork)."""
    return peak_rss_kib() / 1024


def _one_import(database_url: str, feed: Path, queue: Any) -> None:
    """In a fresh process: peak RSS after imports, after an import, after its snapshot."""

    async def run() -> None:
        async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
            await pool.execute("DELETE FROM feed_versions")
            await pool.execute("INSERT INTO operators (id, name) VALUES ('vilnius-rss', 'V')")
            queue.put(("rss_after_imports_mib", _rss_mib()))
            await store_feed(pool, prepare_feed(feed, "vilnius-rss"))
            queue.put(("peak_rss_import_mib", _rss_mib()))
            build_snapshot(await load_current_tables(pool))
            queue.put(("peak_rss_import_and_snapshot_mib", _rss_mib()))

    asyncio.run(run())


def _rss_of_one_import(database_url: str, feed: Path) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_one_import, args=(database_url, feed, queue))
    child.start()
    found = dict(queue.get(timeout=300) for _ in range(3))
    child.join()
    return found


async def bench(database_url: str, feed: Path, runs: int, memory_runs: int) -> dict[str, float]:
    """Measure every phase `runs` times; return medians (seconds) and peaks (MiB)."""
    out: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        out.setdefault(key, []).append(value)

    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        await pool.execute("INSERT INTO operators (id, name) VALUES ('vilnius', 'Vilnius')")
        for _ in range(runs):
            reference = await _reference_copy(pool, feed)
            note("reference_copy_csv_s", reference)
            seconds, prepared = await _timed(
                lambda: asyncio.to_thread(prepare_feed, feed, "vilnius")
            )
            note("validate_read_interpolate_s", seconds)
            store_s = await _store_once(pool, prepared)
            note("store_copy_s", store_s)
            note("validate_and_store_per_copy", (seconds + store_s) / reference)
            note("validate_s", (await _timed(lambda: asyncio.to_thread(validate_zip, feed)))[0])
            start = time.perf_counter()
            with zipfile.ZipFile(feed) as zf, zf.open("stop_times.txt") as f:
                pd.read_csv(f, dtype=str)
            note("reference_read_csv_s", time.perf_counter() - start)
        await store_feed(pool, prepared)
        for _ in range(runs):
            load_s, (versions, tables) = await _timed(lambda: load_current(pool))
            note("load_current_s", load_s)
            start = time.perf_counter()
            build_snapshot(tables)
            note("snapshot_build_s", time.perf_counter() - start)
            start = time.perf_counter()
            compile_timetable(1, versions, tables)
            note("snapshot_and_index_s", time.perf_counter() - start)
        note("peak_prepare_mib", _peak_mib(lambda: prepare_feed(feed, "vilnius")))
        note("peak_snapshot_mib", _peak_mib(lambda: build_snapshot(tables)))
        if memory_runs:
            cli = await cli_peaks_kib(pool, database_url, feed, memory_runs)
            upload = await upload_peaks_kib(pool, database_url, feed, memory_runs)
            for name, peaks in (("maas_import_gtfs", cli), ("upload_child", upload)):
                out[f"{name}_peak_kib"] = [float(k) for k in peaks]
                note(f"{name}_peak_kib_max", max(peaks))
    for key, value in (await asyncio.to_thread(_rss_of_one_import, database_url, feed)).items():
        note(key, value)
    result = {k: statistics.median(v) for k, v in out.items()}
    result["validate_and_store_s"] = result["validate_read_interpolate_s"] + result["store_copy_s"]
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    parser.add_argument(
        "--memory-runs", type=int, default=2, help="runs of each real import path (0: none)"
    )
    args = parser.parse_args()
    base = os.environ.get("MAAS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        result = await bench(_url(base, name), args.feed, args.runs, args.memory_runs)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"feed: {args.feed.name}, medians of {args.runs} runs ({args.memory_runs} of each")
    print(f"real import path), {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC,")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()}")
    for key, value in result.items():
        print(f"  {key:<34} {value:11.2f}")


if __name__ == "__main__":
    asyncio.run(main())
