"""Operators with a back-end of their own, onboarded through the API and the CLI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from gateway.cli.main import main as cli_main
from gateway.demo.kuopio import read_demo_fare_files
from gateway.demo.run import DEMO_DAY_TICKET
from gateway.operator_store import check_tomp_tokens
from gateway.settings import Settings
from sales import sealed
from sales.conditions import set_conditions
from sales.fares import store_fares, zip_files
from sales.tokens import SigningKeyLocked
from tests.conftest import ClientFactory, bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer
from tests.servers import fresh_database

MakeKey = Callable[..., Awaitable[str]]
ServerFactory = Callable[..., Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]
SECRET = "a test secret of enough length"
TOKEN = "tomp-token-8f2c1e"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: a sealed token stops the start-up of apps without it."""
    with fresh_database(tmp_path) as url:
        yield url


async def _stored_token(db: asyncpg.Pool, operator_id: str) -> str:
    stored: str = await db.fetchval("SELECT tomp_token FROM operators WHERE id = $1", operator_id)
    return stored


async def test_admin_onboards_a_tomp_operator_whose_token_is_sealed_and_used(
    aiohttp_client: ClientFactory,
    aiohttp_server: ServerFactory,
    settings: Settings,
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    fake = FakeTomp()
    url = str((await aiohttp_server(fake.app())).make_url(""))
    client: Client = await aiohttp_client(
        create_app(settings.model_copy(update={"signing_key_secret": SecretStr(SECRET)}))
    )
    admin = bearer(await make_key("admin"))
    body = {
        "id": "ferry-backend",
        "name": "Ferry with a back-end",
        "sales_channel": "tomp",
        "tomp_url": url,
        "tomp_token": TOKEN,
    }
    resp = await client.post("/v1/operators", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["sales_channel"] == "tomp"
    assert TOKEN not in await resp.text()
    stored = await _stored_token(db, "ferry-backend")
    assert sealed.is_sealed(stored)
    assert TOKEN not in stored
    assert sealed.unseal(stored, SECRET.encode()) == TOKEN
    files = zip_files(read_demo_fare_files("kuopion-liikenne"))
    await store_fares(db, "ferry-backend", files, "Europe/Helsinki")
    await set_conditions(db, "ferry-backend", "day", DEMO_DAY_TICKET)  # sold on its own
    key = await make_key("maas")
    made = await offer(client, key, day_ticket_offer("ferry-backend"))
    status, booking = await book(client, key, [made["id"]])
    assert (status, booking["status"]) == (201, "PENDING")
    assert fake.authorizations == [f"Bearer {TOKEN}"]
    for wrong in (None, "not the secret it was sealed with"):
        secret = None if wrong is None else SecretStr(wrong)
        runner = web.AppRunner(
            create_app(settings.model_copy(update={"signing_key_secret": secret}))
        )
        with pytest.raises(SigningKeyLocked, match="ferry-backend"):  # its key or its token
            await runner.setup()
        await runner.cleanup()
        with pytest.raises(SigningKeyLocked, match="ferry-backend's tomp_token"):
            await check_tomp_tokens(db, None if wrong is None else wrong.encode())
    assert await check_tomp_tokens(db, SECRET.encode()) == 0  # sealed, and it opens


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"sales_channel": "tomp"}, "tomp_url"),
        ({"sales_channel": "tomp", "tomp_url": "ftp://ferry.example"}, "tomp_url"),
        ({"tomp_url": "https://ferry.example"}, "tomp_url"),
    ],
)
async def test_a_backend_that_cannot_work_is_refused_with_a_clear_problem(
    client: Client, make_key: MakeKey, extra: dict[str, str], field: str
) -> None:
    admin = bearer(await make_key("admin"))
    body = {"id": "ferry-wrong", "name": "Ferry", **extra}
    resp = await client.post("/v1/operators", json=body, headers=admin)
    assert resp.status == 422
    problem = await resp.json(content_type=None)
    assert problem["code"] == "validation_failed"
    assert field in str(problem)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")
    monkeypatch.setenv("MAAS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("MAAS_SIGNING_KEY_SECRET", SECRET)


@pytest.mark.usefixtures("cli_env")
async def test_cli_onboards_a_tomp_operator_with_its_token_from_a_file(
    tmp_path: Path, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    base = ["operators", "create", "--id", "cli-ferry", "--name", "Ferry", "--sales-channel"]
    assert await _cli([*base, "tomp"]) == 2
    assert "needs an http(s) tomp_url" in capsys.readouterr().err
    args = [*base, "tomp", "--tomp-url", "https://tomp.ferry.example"]
    assert await _cli([*args, "--tomp-token-file", str(token_file)]) == 0
    stored = await _stored_token(db, "cli-ferry")
    assert sealed.is_sealed(stored)
    assert sealed.unseal(stored, SECRET.encode()) == TOKEN


async def _cli(argv: list[str]) -> int:
    """Run the CLI in a thread: it runs its own event loop."""
    import asyncio

    return await asyncio.to_thread(cli_main, argv)
