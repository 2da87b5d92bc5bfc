"""Signing keys encrypted at rest: tickets still sign and verify; a wrong secret stops start-up."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from gateway.app import create_app
from gateway.cli import main as cli
from gateway.settings import Settings
from sales.signing import get_active_key
from sales.tokens import (
    SigningKeyLocked,
    TicketClaims,
    is_sealed,
    sign_ticket,
    verify_ticket,
)
from tests.conftest import ClientFactory
from tests.sales.support import confirmed_ticket
from tests.servers import fresh_database

MakeKey = Callable[..., Awaitable[str]]
SECRET = "correct horse battery staple"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: sealing keys must not touch other tests' keys."""
    with fresh_database(tmp_path) as url:
        yield url


def _with_secret(settings: Settings, secret: str | None) -> Settings:
    return settings.model_copy(
        update={"signing_key_secret": None if secret is None else SecretStr(secret)}
    )


async def _stored_pem(db: asyncpg.Pool, operator_id: str) -> bytes:
    return bytes(
        await db.fetchval(
            "SELECT private_pem FROM signing_keys WHERE operator_id = $1 AND retired_at IS NULL",
            operator_id,
        )
    )


async def test_keys_are_stored_encrypted_and_a_wrong_secret_stops_start_up(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    client = await aiohttp_client(create_app(_with_secret(settings, SECRET)))
    operator_id, token = await confirmed_ticket(client, db, await make_key("maas"))
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    assert verify_ticket(token, jwks, datetime.now(UTC)).operator_id == operator_id
    stored = await _stored_pem(db, operator_id)
    assert is_sealed(stored)
    assert b"BEGIN PRIVATE KEY" not in stored
    kid = await db.fetchval("SELECT kid FROM signing_keys WHERE operator_id = $1", operator_id)
    for wrong in (None, "not the secret it was sealed with"):
        runner = web.AppRunner(create_app(_with_secret(settings, wrong)))
        try:
            with pytest.raises(SigningKeyLocked, match=kid):
                await runner.setup()
        finally:
            await runner.cleanup()  # what `maas serve` does: close what did start


async def test_seal_encrypts_the_keys_stored_in_clear(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    operator_id, _ = await confirmed_ticket(client, db, await make_key("maas"))
    assert not is_sealed(await _stored_pem(db, operator_id))
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")
    assert await asyncio.to_thread(cli.main, ["signing-keys", "seal"]) == 2
    assert "MAAS_SIGNING_KEY_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("MAAS_SIGNING_KEY_SECRET", SECRET)
    assert await asyncio.to_thread(cli.main, ["signing-keys", "seal"]) == 0
    assert "encrypted 1 signing key(s)" in capsys.readouterr().out
    assert is_sealed(await _stored_pem(db, operator_id))
    # The same key goes on signing, opened with the secret.
    async with db.acquire() as conn:
        key = await get_active_key(conn, operator_id, SECRET.encode())
    now = datetime.now(UTC)
    claims = TicketClaims("t-1", operator_id, None, None, now, now + timedelta(hours=1), "b-1")
    token = sign_ticket(claims, key, now)
    assert verify_ticket(token, {"keys": [key.public_jwk]}, now) == claims.__class__(
        "t-1",
        operator_id,
        None,
        None,
        now.replace(microsecond=0),
        (now + timedelta(hours=1)).replace(microsecond=0),
        "b-1",
    )
