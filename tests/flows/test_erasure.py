"""Erasure leaves no stored trace of the reference; the audit log keeps its proof by HMAC."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from flows.audit import audit_key, principal
from flows.jobs import run_once
from gateway import migrate
from tests.conftest import bearer
from tests.flows.live import a_live_ride, confirmed_booking, itinerary_body, tenant_of
from tests.flows.support import TEST_CONFIG
from tests.servers import fresh_database

Client = TestClient[Any, Any]
PURPOSE = "/consents/trip-statistics"
#: Every column type a reference could be written into as text.
_TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json", "ARRAY", "bytea")


async def _columns(conn: asyncpg.Pool | asyncpg.Connection) -> dict[str, list[tuple[str, str]]]:
    rows = await conn.fetch(
        """SELECT c.table_schema, c.table_name, c.column_name, c.data_type
           FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
             AND t.table_type = 'BASE TABLE' AND c.data_type = ANY($1::text[])""",
        list(_TEXT_TYPES),
    )
    tables: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        table = f"{r['table_schema']}.{r['table_name']}"
        tables.setdefault(table, []).append((r["column_name"], r["data_type"]))
    return tables


async def _naming(conn: asyncpg.Pool, ref: str) -> list[str]:
    """Return every table.column (text, jsonb, arrays, bytea) that holds `ref` anywhere."""
    found = []
    for table, columns in (await _columns(conn)).items():
        for column, kind in columns:
            value = (
                f"position(convert_to($1, 'UTF8') in \"{column}\") > 0"
                if kind == "bytea"
                else f'strpos("{column}"::text, $1) > 0'
            )
            quoted = '"' + table.replace(".", '"."', 1) + '"'
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {quoted} WHERE {value})", ref):
                found.append(f"{table}.{column}")
    return found


async def test_after_erasure_no_table_names_the_reference(
    live: Client, live_db: asyncpg.Pool, live_key: Any
) -> None:
    key = await live_key("maas")
    tenant = await tenant_of(live, key)
    ref = f"erase-{uuid.uuid4().hex}"
    assert (await live.put(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))).status == 200
    ride, _, arrival = await a_live_ride(live)
    await confirmed_booking(live, key, itinerary_body(ride), ref)
    # An app may also name the traveller as one of a booking's travellers.
    group = {**itinerary_body(ride), "travellers": [{"ref": "companion-1"}, {"ref": ref}]}
    other = f"other-{uuid.uuid4().hex}"
    await confirmed_booking(live, key, group, other)
    await run_once(live_db, TEST_CONFIG, arrival + timedelta(minutes=40))
    data = await (await live.get(f"/v1/travellers/{ref}/data", headers=bearer(key))).json()
    (trip,) = data["trip_records"]
    assert (trip["legs"], trip["operators"]) == (1, [ride["operator_id"]])
    assert trip["legal_basis"].startswith("consent")
    assert (await live.delete(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))).status == 200
    assert (await live.put(f"/v1/travellers/{ref}{PURPOSE}", headers=bearer(key))).status == 200
    data = await (await live.get(f"/v1/travellers/{ref}/data", headers=bearer(key))).json()
    assert [r["action"] for r in data["consent_receipts"]] == ["grant", "withdraw", "grant"]
    assert data["trip_records"] == []  # the withdrawal took them at once
    assert {r["receipt"]["piiPrincipalId"] for r in data["consent_receipts"]} == {ref}
    assert len(data["bookings"]) == 2
    stored = set(await _naming(live_db, ref))
    assert {
        "public.flow_consents.traveller_ref",
        "public.bookings.traveller_ref",
        "public.bookings.travellers",
        "public.offers.travellers",
        "public.idempotency_keys.response_body",
    } <= stored, stored

    erased = await live.delete(f"/v1/travellers/{ref}", headers=bearer(key))
    assert erased.status == 200
    assert await _naming(live_db, ref) == []
    # Only that reference went: the companion and the other booking's reference stay.
    kept = await live_db.fetchrow(
        "SELECT traveller_ref, travellers FROM bookings WHERE traveller_ref = $1", other
    )
    assert [t.get("ref") for t in kept["travellers"]] == ["companion-1", None]
    # The log still proves what was consented to, under the HMAC only the gateway can compute.
    name = principal(await audit_key(live_db), tenant, ref)
    log = await live_db.fetch(
        "SELECT action, receipt FROM flow_consent_receipts WHERE principal = $1 "
        "ORDER BY created_at, id",
        name,
    )
    assert [r["action"] for r in log] == ["grant", "withdraw", "grant", "erase"]
    assert {r["receipt"]["piiPrincipalId"] for r in log} == {f"hmac-sha256:{name.hex()}"}


@pytest.mark.parametrize("message", [b"", b"app\x00ref-1", "app-ä\x00välk".encode(), b"x" * 200])
async def test_the_migrations_hmac_is_pythons(db: asyncpg.Pool, message: bytes) -> None:
    key = await audit_key(db)
    in_sql = await db.fetchval("SELECT flows_hmac_sha256($1, $2)", key, message)
    assert bytes(in_sql) == hmac.new(key, message, hashlib.sha256).digest()
    long_key = bytes(range(100))
    in_sql = await db.fetchval("SELECT flows_hmac_sha256($1, $2)", long_key, message)
    assert bytes(in_sql) == hmac.new(long_key, message, hashlib.sha256).digest()


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, migrated=False) as url:
        yield url


async def test_migration_130_files_existing_receipts_under_the_hmac(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = migrate.list_migrations()
    conn = await asyncpg.connect(empty_database)
    try:
        monkeypatch.setattr(
            migrate, "list_migrations", lambda: [m for m in every if m.version < 130]
        )
        await migrate.migrate(conn)
        await conn.execute(
            """INSERT INTO flow_consent_receipts
                   (id, tenant_id, traveller_ref, purpose, action, receipt)
               VALUES ($1, 'app-old', 'old-ref-1', 'trip-statistics', 'grant',
                       '{"piiPrincipalId": "old-ref-1", "action": "grant"}')""",
            uuid.uuid4(),
        )
        monkeypatch.setattr(migrate, "list_migrations", lambda: every)
        await migrate.migrate(conn)
        row = await conn.fetchrow("SELECT principal, receipt FROM flow_consent_receipts")
        key = bytes(await conn.fetchval("SELECT key FROM flow_audit_key"))
    finally:
        await conn.close()
    name = principal(key, "app-old", "old-ref-1")
    assert bytes(row["principal"]) == name
    assert "old-ref-1" not in row["receipt"]
    assert f"hmac-sha256:{name.hex()}" in row["receipt"]
