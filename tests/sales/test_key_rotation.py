"""Signing keys are published before they sign: from onboarding, and a lead time before rotation."""

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.cli import main as cli
from sales.errors import KeyRotationPending, NoSigningKey
from sales.signing import ensure_every_signing_key, get_active_key, rotate_key
from sales.tokens import verify_ticket
from tests.conftest import bearer
from tests.sales.support import confirmed_ticket

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]
DAY = timedelta(hours=24)


async def _jwks(client: Client) -> dict[str, Any]:
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status == 200
    keys: dict[str, Any] = await resp.json()
    return keys


def _kids(jwks: dict[str, Any], operator_id: str) -> list[str]:
    return [k["kid"] for k in jwks["keys"] if k["iss"] == operator_id]


def _kid_of(token: str) -> str:
    header = token.split(".")[0]
    kid: str = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


async def _pass_time(db: asyncpg.Pool, operator_id: str, by: timedelta) -> None:
    """Move the operator's key schedule into the past, as if `by` had gone by."""
    await db.execute(
        """UPDATE signing_keys SET signs_from = signs_from - $2::interval,
                  retired_at = retired_at - $2::interval, created_at = created_at - $2::interval
           WHERE operator_id = $1""",
        operator_id,
        by,
    )


async def test_an_operator_onboarded_through_the_api_has_a_published_key_before_any_sale(
    client: Client, make_key: MakeKey, db: asyncpg.Pool
) -> None:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    resp = await client.post(
        "/v1/operators",
        json={"id": operator_id, "name": "Onboarded"},
        headers=bearer(await make_key("admin")),
    )
    assert resp.status == 201, await resp.text()
    assert len(_kids(await _jwks(client), operator_id)) == 1
    assert (
        await db.fetchval("SELECT count(*) FROM tickets WHERE operator_id = $1", operator_id) == 0
    )


async def test_a_sale_never_makes_a_key_and_start_up_gives_one_to_an_operator_without(
    db: asyncpg.Pool,
) -> None:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    await db.execute("INSERT INTO operators (id, name) VALUES ($1, 'Old')", operator_id)
    async with db.acquire() as conn:
        with pytest.raises(NoSigningKey, match=operator_id):
            await get_active_key(conn, operator_id, None)
        assert operator_id in await ensure_every_signing_key(db, None)
        assert (await get_active_key(conn, operator_id, None)).operator_id == operator_id


async def test_rotation_publishes_the_next_key_a_day_before_it_signs(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id, first = await confirmed_ticket(client, db, maas)
    old_kid = _kid_of(first)
    async with db.acquire() as conn:
        rotation = await rotate_key(conn, operator_id, None, DAY)
    assert rotation.replaces == old_kid
    assert rotation.signs_from > datetime.now(UTC) + DAY - timedelta(minutes=5)
    morning = await _jwks(client)  # what an inspector's device fetched after the rotation
    assert _kids(morning, operator_id) == [old_kid, rotation.kid]
    # Until the lead time has gone by, the old key signs: the new one only waits.
    _, before = await confirmed_ticket(client, db, maas, operator_id)
    assert _kid_of(before) == old_kid
    await _pass_time(db, operator_id, DAY)
    _, after = await confirmed_ticket(client, db, maas, operator_id)
    assert _kid_of(after) == rotation.kid
    now = datetime.now(UTC)
    for token in (first, before, after):
        assert verify_ticket(token, morning, now).operator_id == operator_id
    # The old key stays published while a ticket it signed is valid, and no longer.
    assert old_kid in _kids(await _jwks(client), operator_id)
    await db.execute(
        "UPDATE tickets SET valid_until = now() - interval '1 second' WHERE kid = $1", old_kid
    )
    assert _kids(await _jwks(client), operator_id) == [rotation.kid]


async def test_a_second_rotation_waits_for_the_first_key_to_sign(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id, _ = await confirmed_ticket(client, db, await make_key("maas"))
    async with db.acquire() as conn:
        await rotate_key(conn, operator_id, None, DAY)
        with pytest.raises(KeyRotationPending, match="signs from"):
            await rotate_key(conn, operator_id, None, DAY)
    await _pass_time(db, operator_id, DAY)
    # Two at once: one announces a key, the other is told to wait.

    async def rotate() -> object:
        async with db.acquire() as conn:
            return await rotate_key(conn, operator_id, None, DAY)

    results = await asyncio.gather(rotate(), rotate(), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["KeyRotationPending", "Rotation"]


async def test_a_rotation_without_lead_time_signs_at_once(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id, _ = await confirmed_ticket(client, db, maas)
    async with db.acquire() as conn:
        rotation = await rotate_key(conn, operator_id, None, timedelta(0))
    _, token = await confirmed_ticket(client, db, maas, operator_id)
    assert _kid_of(token) == rotation.kid


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_rotates_with_the_lead_time_of_the_option_or_the_setting(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    operator_id, _ = await confirmed_ticket(client, db, await make_key("maas"))
    monkeypatch.setenv("MAAS_SIGNING_KEY_LEAD_TIME_H", "48")
    assert await _maas(["signing-keys", "rotate", "--operator", operator_id]) == 0
    assert "signs from" in capsys.readouterr().out
    lead = await db.fetchval(
        """SELECT signs_from - created_at FROM signing_keys
           WHERE operator_id = $1 AND retired_at IS NULL""",
        operator_id,
    )
    assert timedelta(hours=47) < lead <= timedelta(hours=48)
    assert await _maas(["signing-keys", "rotate", "--operator", operator_id]) == 1
    assert "rotate again after that" in capsys.readouterr().err
    await _pass_time(db, operator_id, timedelta(hours=48))
    args = ["signing-keys", "rotate", "--operator", operator_id, "--lead-time-h", "2"]
    assert await _maas(args) == 0
    lead = await db.fetchval(
        """SELECT signs_from - created_at FROM signing_keys
           WHERE operator_id = $1 AND retired_at IS NULL""",
        operator_id,
    )
    assert timedelta(hours=1) < lead <= timedelta(hours=2)


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_onboards_an_operator_with_its_key(client: Client) -> None:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    assert await _maas(["operators", "create", "--id", operator_id, "--name", "By CLI"]) == 0
    assert len(_kids(await _jwks(client), operator_id)) == 1


async def _maas(args: list[str]) -> int:
    # The CLI runs its own event loop, as it does from a shell: give it a thread.
    return await asyncio.to_thread(cli.main, args)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")
