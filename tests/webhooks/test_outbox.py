"""The outbox: an event exists if and only if its change committed, and is read without gaps."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from webhooks.feed import Event, list_events

#: A process that makes a booking change and its event in one transaction, then waits to be
#: killed: before its commit (`hold`) or after it (`commit`).
CHANGE = """
import asyncio, sys, uuid
import asyncpg
import pytest
from gateway.dbcodecs import init_connection
from sales import booking_store as store

async def main(url, booking, mode):
    conn = await asyncpg.connect(url, server_settings={"application_name": "outbox-kill"})
    await init_connection(conn)
    tx = conn.transaction()
    await tx.start()
    await store.set_status(conn, uuid.UUID(booking), "CONFIRMED")
    await store.event(conn, uuid.UUID(booking), "t-kill", "booking.confirmed")
    if mode == "commit":
        await tx.commit()
    print("ready", flush=True)
    await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""


async def _booking(db: asyncpg.Pool) -> uuid.UUID:
    booking_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO bookings (id, tenant_id, status, travellers, total_minor, currency,
                                 expires_at)
           VALUES ($1, 't-kill', 'PENDING', '[]', 100, 'EUR', $2)""",
        booking_id,
        datetime.now(UTC) + timedelta(hours=1),
    )
    return booking_id


async def _change_then_kill(database_url: str, booking_id: uuid.UUID, mode: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHANGE,
        database_url,
        str(booking_id),
        mode,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def _state(db: asyncpg.Pool, booking_id: uuid.UUID) -> tuple[str, list[str]]:
    # The server notices the dead client and rolls its transaction back: wait for that.
    for _ in range(200):
        alive = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'outbox-kill'"
        )
        if not alive:
            break
        await asyncio.sleep(0.05)
    status = await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id)
    events = await db.fetch(
        "SELECT type FROM events WHERE object_type = 'booking' AND object_id = $1 ORDER BY seq",
        str(booking_id),
    )
    return status, [e["type"] for e in events]


async def _visible(db: asyncpg.Pool, owner: str, count: int) -> list[Event]:
    """Read an owner's events once every transaction older than theirs has ended.

    That includes other sessions' on the same server (other tests, other databases): the
    feed holds back what a running transaction could still precede.
    """
    for _ in range(600):
        if len(found := await list_events(db, owner, None, 10)) >= count:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_a_process_killed_between_change_and_commit_leaves_neither(
    db: asyncpg.Pool, database_url: str
) -> None:
    booking_id = await _booking(db)
    await _change_then_kill(database_url, booking_id, "hold")
    assert await _state(db, booking_id) == ("PENDING", [])


async def test_a_process_killed_after_its_commit_leaves_both(
    db: asyncpg.Pool, database_url: str
) -> None:
    booking_id = await _booking(db)
    await _change_then_kill(database_url, booking_id, "commit")
    assert await _state(db, booking_id) == ("CONFIRMED", ["booking.confirmed"])


async def test_an_event_committed_late_is_not_skipped_by_a_reader(db: asyncpg.Pool) -> None:
    write = "SELECT outbox_write('feed', $1, 'feed.current', NULL, ARRAY['operator:o'], '{}')"
    async with db.acquire() as slow:
        tx = slow.transaction()
        await tx.start()
        await slow.execute(write, "slow")  # takes the lower id, commits last
        await db.execute(write, "fast")
        # Reading now must not pass the slow event: the fast one waits behind it.
        assert [e.object_id for e in await list_events(db, "operator:o", None, 10)] == []
        await tx.commit()
    found = await _visible(db, "operator:o", 2)
    assert [e.object_id for e in found] == ["slow", "fast"]
    assert await list_events(db, "operator:o", found[-1].id, 10) == []


async def test_feed_and_ticket_changes_write_their_events_in_the_same_transaction(
    db: asyncpg.Pool,
) -> None:
    operator = f"op-{uuid.uuid4().hex[:6]}"
    await db.execute("INSERT INTO operators (id, name) VALUES ($1, $1)", operator)
    version = await db.fetchval(
        """INSERT INTO feed_versions (operator_id, sha256, status)
           VALUES ($1, repeat('a', 64), 'ready') RETURNING id""",
        operator,
    )
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("UPDATE feed_versions SET is_current = true WHERE id = $1", version)
        await tx.rollback()
    await db.execute("UPDATE feed_versions SET is_current = true WHERE id = $1", version)
    await db.execute(
        "UPDATE feed_versions SET is_current = false, status = 'pruned' WHERE id = $1", version
    )
    found = await _visible(db, f"operator:{operator}", 2)
    assert [(e.type, e.seq) for e in found] == [("feed.current", 1), ("feed.pruned", 2)]


async def test_a_booking_event_must_name_the_booking_by_its_uuid(db: asyncpg.Pool) -> None:
    # booking_events casts the id to uuid: one row with another id would fail every read of it.
    write = "SELECT outbox_write('booking', $1, 'booking.confirmed', NULL, ARRAY['tenant:t'], '{}')"
    with pytest.raises(asyncpg.CheckViolationError, match="events_booking_id_is_uuid"):
        await db.execute(write, "b-1")
    event_id = await db.fetchval(write, str(uuid.uuid4()))
    assert await db.fetchval("SELECT count(*) FROM booking_events WHERE id = $1", event_id) == 1
