"""Feed versions in PostgreSQL: the Kuopio operators merge, versions swap atomically, export."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import asyncpg
import gtfs_kit as gk
import pandas as pd
import pytest

from gateway import operator_store
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gtfs.feed.export import gtfs_zip_bytes
from gtfs.feed.prepare import PreparedFeed, prepare_feed
from gtfs.feed.store import (
    csv_chunks,
    list_feed_versions,
    load_current,
    load_current_tables,
    store_feed,
)
from gtfs.feed.validate.archive import FeedInvalid
from gtfs.tables import COLUMNS, GtfsTables, operator_of
from tests.timetable_data import gtfs_path, rewrite_zip

KUOPIO_IDS = [op.operator_id for op in KUOPIO_OPERATORS]


def _rows_of(tables: GtfsTables, operator_id: str) -> dict[str, int]:
    counts = {}
    for name in COLUMNS:
        df = getattr(tables, name)
        key = "operator_id" if "operator_id" in df else df.columns[0]
        owner = df[key] if key == "operator_id" else df[key].astype("string").map(operator_of)
        counts[name] = int((owner == operator_id).sum())
    return counts


async def _new_operator(db: asyncpg.Pool, operator_id: str) -> None:
    await operator_store.create_operator(db, operator_id, operator_id.title())


def _hsl_variant(shared_data: Path, tmp_path: Path, phone: str) -> Path:
    edit = {"agency.txt": lambda t: t.replace("(09) 4766 4444", phone)}
    return rewrite_zip(gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / f"{phone}.zip", edit)


async def test_kuopio_operators_merge_with_counts_equal_to_their_sum(
    kuopio_demo: str, db: asyncpg.Pool
) -> None:
    merged = await load_current_tables(db)
    total = {name: 0 for name in COLUMNS}
    for operator_id in KUOPIO_IDS:
        (current,) = [v for v in await list_feed_versions(db, operator_id) if v.is_current]
        assert _rows_of(merged, operator_id) == current.counts
        for name, n in current.counts.items():
            total[name] += n
    # Split by agency, the five operators still hold every trip of the original feed.
    assert total["trips"] == 2149
    assert total["stop_times"] == 79123
    assert total["agency"] == 5


async def test_same_feed_again_changes_nothing(
    kuopio_demo: str, kuopio_zip: Path, db: asyncpg.Pool
) -> None:
    op = KUOPIO_OPERATORS[1]
    before = await list_feed_versions(db, op.operator_id)
    prepared = await asyncio.to_thread(prepare_feed, kuopio_zip, op.operator_id, op.agency_id)
    stored = await store_feed(db, prepared)
    assert not stored.changed
    assert stored.version_id == next(v.id for v in before if v.is_current)
    assert await list_feed_versions(db, op.operator_id) == before


async def test_new_version_replaces_old_atomically_and_old_ones_are_pruned(
    shared_data: Path, tmp_path: Path, db: asyncpg.Pool
) -> None:
    await _new_operator(db, "store-versions")
    ids = []
    feeds = [_hsl_variant(shared_data, tmp_path, phone) for phone in ("1", "2", "3")]
    for feed in feeds:
        prepared = await asyncio.to_thread(prepare_feed, feed, "store-versions")
        stored = await store_feed(db, prepared)
        assert stored.changed
        assert stored.created
        ids.append(stored.version_id)
    versions = {v.id: v for v in await list_feed_versions(db, "store-versions")}
    assert [versions[i].is_current for i in ids] == [False, False, True]
    assert [versions[i].status for i in ids] == ["pruned", "ready", "ready"]
    left = await db.fetchval("SELECT count(*) FROM gtfs_stops WHERE feed_version_id = $1", ids[0])
    assert left == 0
    again = await store_feed(
        db,
        await asyncio.to_thread(
            prepare_feed, _hsl_variant(shared_data, tmp_path, "2"), "store-versions"
        ),
    )
    assert (again.version_id, again.changed, again.created) == (ids[1], True, False)


async def test_a_failing_copy_leaves_the_previous_feed_current(
    shared_data: Path, db: asyncpg.Pool
) -> None:
    await _new_operator(db, "store-atomic")
    good = await asyncio.to_thread(
        prepare_feed, gtfs_path(shared_data, "hsl-minimal.zip"), "store-atomic"
    )
    first = await store_feed(db, good)
    doubled = pd.concat([good.tables.stop_times, good.tables.stop_times], ignore_index=True)
    bad = dataclasses.replace(
        good, sha256="f" * 64, tables=dataclasses.replace(good.tables, stop_times=doubled)
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await store_feed(db, bad)
    versions = await list_feed_versions(db, "store-atomic")
    assert [(v.id, v.is_current) for v in versions] == [(first.version_id, True)]


async def test_feed_for_an_unknown_operator_is_refused(shared_data: Path, db: asyncpg.Pool) -> None:
    prepared = await asyncio.to_thread(
        prepare_feed, gtfs_path(shared_data, "hsl-minimal.zip"), "nobody"
    )
    with pytest.raises(LookupError):
        await store_feed(db, prepared)


async def test_merged_zip_reads_back_with_the_same_counts(
    kuopio_demo: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    versions, merged = await load_current(db)
    assert len(versions) >= 5
    path = tmp_path / "merged.zip"
    path.write_bytes(await asyncio.to_thread(gtfs_zip_bytes, merged))
    feed = await asyncio.to_thread(gk.read_feed, path, "km")
    for name in COLUMNS:
        table = getattr(feed, name)
        assert (0 if table is None else len(table)) == len(getattr(merged, name)), name
    assert feed.stop_times["arrival_time"].str.match(r"^\d\d:\d\d:\d\d$").all()


def test_unknown_agency_is_a_feed_error(kuopio_zip: Path) -> None:
    with pytest.raises(FeedInvalid) as caught:
        prepare_feed(kuopio_zip, "kuopion-liikenne", "12345")
    assert caught.value.errors[0].message.startswith("agency '12345' is not in the feed")


def test_prepared_counts_cover_every_table(kuopio_zip: Path) -> None:
    prepared: PreparedFeed = prepare_feed(kuopio_zip, "e-ahonen", "6778")
    counts = prepared.counts()
    assert set(counts) == set(COLUMNS)
    assert counts["agency"] == 1
    assert (prepared.tables.trips["operator_id"] == "e-ahonen").all()
    assert prepared.tables.stops["stop_id"].str.startswith("e-ahonen:").all()


async def test_a_copy_longer_than_the_pools_command_timeout_still_stores(
    shared_data: Path, database_url: str, db: asyncpg.Pool
) -> None:
    # A COPY made slow on purpose (a statement trigger that sleeps) outlasts a pool whose
    # command_timeout is shorter, as a national stop_times outlasts the gateway's 60 s.
    await _new_operator(db, "store-slow")
    prepared = await asyncio.to_thread(
        prepare_feed, gtfs_path(shared_data, "hsl-minimal.zip"), "store-slow"
    )
    await db.execute(
        "CREATE FUNCTION test_slow_copy() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;"
        " CREATE TRIGGER test_slow_copy BEFORE INSERT ON gtfs_calendar"
        " FOR EACH STATEMENT EXECUTE FUNCTION test_slow_copy()"
    )
    try:
        async with asyncpg.create_pool(database_url, min_size=1, command_timeout=1.5) as short:
            stored = await store_feed(short, prepared)
    finally:
        await db.execute(
            "DROP TRIGGER test_slow_copy ON gtfs_calendar; DROP FUNCTION test_slow_copy()"
        )
    versions = await list_feed_versions(db, "store-slow")
    assert [(v.id, v.is_current) for v in versions] == [(stored.version_id, True)]
    assert versions[0].counts["calendar"] == len(prepared.tables.calendar) > 0


async def test_text_with_commas_quotes_and_line_breaks_is_stored_as_it_was_read(
    shared_data: Path, db: asyncpg.Pool, tmp_path: Path
) -> None:
    # The COPY's CSV is written cell by cell (gtfs/feed/store.py): these must be quoted.
    name = 'Matinkylä, "M"\nlaituri'
    edit = {"stops.txt": lambda t: t.replace('"Matinkylä (M)","', '"Matinkylä, ""M""\nlaituri","')}
    feed = rewrite_zip(gtfs_path(shared_data, "hsl-minimal.zip"), tmp_path / "q.zip", edit)
    await _new_operator(db, "quoted")
    prepared = prepare_feed(feed, "quoted")
    assert name in set(prepared.tables.stops["stop_name"])
    await store_feed(db, prepared)
    stops = (await load_current_tables(db)).stops
    stored = stops[stops["operator_id"] == "quoted"].sort_values("stop_id")
    expected = prepared.tables.stops.sort_values("stop_id")
    assert stored["stop_name"].tolist() == expected["stop_name"].tolist()
    assert stored["zone_id"].tolist() == expected["zone_id"].tolist()


def test_stop_times_are_copied_in_the_order_of_their_primary_key() -> None:
    # In key order each row's index entry goes to the index's right end (C collation:
    # "10" before "9"); the COPY of a city feed's stop_times took a third less time.
    stop_times = pd.DataFrame(
        {
            "trip_id": pd.array(["op:9", "op:9", "op:10", "op:10", "op:1"], dtype="string"),
            "stop_sequence": pd.array([2, 1, 7, 3, 1], dtype="Int32"),
            "stop_id": pd.array(["op:a", "op:b", "op:c", "op:d", "op:e"], dtype="string"),
        }
    )
    for column in COLUMNS["stop_times"]:
        if column not in stop_times:
            stop_times[column] = pd.NA
    rows = b"".join(csv_chunks(5, "stop_times", stop_times, chunk_rows=2)).decode().splitlines()
    assert [r.split(",")[:4] for r in rows] == [
        ["5", "op:1", "1", "op:e"],
        ["5", "op:10", "3", "op:d"],
        ["5", "op:10", "7", "op:c"],
        ["5", "op:9", "1", "op:b"],
        ["5", "op:9", "2", "op:a"],
    ]
