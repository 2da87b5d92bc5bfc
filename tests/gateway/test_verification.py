"""What an inspector fetches to check tickets offline: the JWKS and the status lists."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sales import revocation
from sales.signing import rotate_key
from sales.statuslist import MEDIA_TYPE, read_status_list
from tests.conftest import bearer
from tests.sales.support import cancellable_ticket, operator_with_demo_fares, token_claims

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def test_the_jwks_is_cacheable_and_answers_304_until_a_key_changes(
    client: Client, db: asyncpg.Pool
) -> None:
    operator_id = await operator_with_demo_fares(db)
    first = await client.get("/.well-known/jwks.json")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=300"
    again = await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    async with db.acquire() as conn:
        await rotate_key(conn, operator_id, None, timedelta(hours=24))
    changed = await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag


async def test_a_ticket_names_its_index_in_its_operators_status_list(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id, _, first = await cancellable_ticket(client, db, maas)
    _, _, second = await cancellable_ticket(client, db, maas, operator_id)
    refs = [token_claims(t)["status"]["status_list"] for t in (first, second)]
    # The configured public URL (here the default), not whatever address a client used.
    assert {r["uri"] for r in refs} == {f"http://127.0.0.1:8080/v1/status-lists/{operator_id}"}
    assert refs[1]["idx"] == refs[0]["idx"] + 1


async def test_concurrent_sales_never_share_a_status_list_index(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    await asyncio.gather(*(cancellable_ticket(client, db, maas, operator_id) for _ in range(8)))
    indexes = [
        r["status_idx"]
        for r in await db.fetch(
            "SELECT status_idx FROM tickets WHERE operator_id = $1", operator_id
        )
    ]
    assert sorted(indexes) == list(range(8))
    ticket = await db.fetchrow("SELECT * FROM tickets WHERE operator_id = $1 LIMIT 1", operator_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "UPDATE tickets SET status_idx = $2 WHERE operator_id = $1 AND id <> $3",
            operator_id,
            ticket["status_idx"],
            ticket["id"],
        )


async def test_a_cancel_sets_the_tickets_bit_in_the_signed_status_list(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id, booking_id, token = await cancellable_ticket(client, db, maas)
    _, _, kept = await cancellable_ticket(client, db, maas, operator_id)
    path = f"/v1/status-lists/{operator_id}"
    before = await client.get(path)
    assert before.status == 200
    assert before.content_type == MEDIA_TYPE
    assert before.headers["Cache-Control"] == "public, max-age=300"
    etag = before.headers["ETag"]
    assert (await client.get(path, headers={"If-None-Match": etag})).status == 304
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    listed = read_status_list(await before.text(), jwks, datetime.now(UTC))
    idx, kept_idx = (token_claims(t)["status"]["status_list"]["idx"] for t in (token, kept))
    assert not listed.is_revoked(idx)
    resp = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(maas))
    assert (await resp.json())["status"] == "CANCELLED"
    after = await client.get(path, headers={"If-None-Match": etag})
    assert after.status == 200
    listed = read_status_list(await after.text(), jwks, datetime.now(UTC))
    assert listed.is_revoked(idx)
    assert not listed.is_revoked(kept_idx)
    assert (await client.get("/v1/status-lists/no-such-operator")).status == 404


async def _status_list_rows(db: asyncpg.Pool, operator_id: str) -> list[tuple[object, ...]]:
    """The operator's status list row with its row version (`xmin` changes on any update)."""
    rows = await db.fetch(
        "SELECT xmin::text, * FROM status_lists WHERE operator_id = $1", operator_id
    )
    return [tuple(r.values()) for r in rows]


async def test_serving_a_status_list_writes_nothing_and_signs_the_same_bytes_everywhere(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    unsold = await operator_with_demo_fares(db)
    resp = await client.get(f"/v1/status-lists/{unsold}")
    assert resp.status == 200
    assert await _status_list_rows(db, unsold) == []  # no row made for an operator with no sale
    maas = await make_key("maas")
    operator_id, booking_id, token = await cancellable_ticket(client, db, maas)
    path = f"/v1/status-lists/{operator_id}"
    before = await _status_list_rows(db, operator_id)
    first = await client.get(path)
    assert await _status_list_rows(db, operator_id) == before
    # Another process signs the same list with nothing shared but the database.
    revocation._sign.cache_clear()
    second = await client.get(path)
    assert (await second.read(), second.headers["ETag"]) == (
        await first.read(),
        first.headers["ETag"],
    )
    assert await _status_list_rows(db, operator_id) == before
    # A revocation is in the next list at once, signed and valid for most of a day.
    resp = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(maas))
    assert (await resp.json())["status"] == "CANCELLED"
    after = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status == 200
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    now = datetime.now(UTC)
    listed = read_status_list(await after.text(), jwks, now)
    assert listed.is_revoked(token_claims(token)["status"]["status_list"]["idx"])
    assert listed.expires_at is not None
    assert listed.expires_at - now >= timedelta(hours=23)


def test_a_list_is_issued_at_the_hour_or_at_its_last_revocation() -> None:
    now = datetime(2026, 12, 3, 10, 40, 12, 5, tzinfo=UTC)
    hour = datetime(2026, 12, 3, 10, tzinfo=UTC)
    assert revocation.issued_at(now, None) == hour
    assert revocation.issued_at(now, hour - timedelta(minutes=5)) == hour
    revoked = datetime(2026, 12, 3, 10, 31, 2, 77, tzinfo=UTC)
    assert revocation.issued_at(now, revoked) == revoked.replace(microsecond=0)
    # A database clock a moment ahead never puts the list in the future.
    assert revocation.issued_at(now, now + timedelta(seconds=2)) == now.replace(microsecond=0)
