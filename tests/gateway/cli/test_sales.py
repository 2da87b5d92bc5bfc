import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.cli import main as cli
from gateway.demo.kuopio import read_demo_fare_files
from sales.fares import zip_files
from tests.sales.support import confirmed_ticket, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]


async def _maas(args: list[str]) -> int:
    # The CLI runs its own event loop, as it does from a shell: give it a thread.
    return await asyncio.to_thread(cli.main, args)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")


async def _confirmed_ticket(
    client: TestClient[web.Request, web.Application],
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> tuple[str, str]:
    return await confirmed_ticket(client, db, await make_key("maas"))


@pytest.mark.usefixtures("cli_env")
async def test_ticket_verify_says_valid_or_why_not(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, token = await _confirmed_ticket(client, db, make_key)
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(await (await client.get("/.well-known/jwks.json")).read())
    assert await _maas(["ticket", "verify", token, "--jwks", str(jwks)]) == 0
    assert "VALID ticket" in capsys.readouterr().out
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert await _maas(["ticket", "verify", forged, "--jwks", str(jwks)]) == 1
    assert "INVALID (bad_signature)" in capsys.readouterr().out
    jwks.write_bytes(orjson.dumps({"keys": []}))
    assert await _maas(["ticket", "verify", token, "--jwks", str(jwks)]) == 1
    assert "INVALID (unknown_key)" in capsys.readouterr().out


@pytest.mark.usefixtures("cli_env")
async def test_rotation_keeps_the_old_key_published_while_its_tickets_live(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    operator_id, token = await _confirmed_ticket(client, db, make_key)
    before = {k["kid"] for k in (await (await client.get("/.well-known/jwks.json")).json())["keys"]}
    assert await _maas(["signing-keys", "rotate", "--operator", operator_id]) == 0
    after = {k["kid"] for k in (await (await client.get("/.well-known/jwks.json")).json())["keys"]}
    assert before < after
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(await (await client.get("/.well-known/jwks.json")).read())
    capsys.readouterr()
    assert await _maas(["ticket", "verify", token, "--jwks", str(jwks)]) == 0


@pytest.mark.usefixtures("cli_env")
async def test_fares_import_reports_errors_by_file_and_row(
    db: asyncpg.Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_id = await operator_with_demo_fares(db)
    files = read_demo_fare_files("kuopion-liikenne")
    broken = dict(files)
    broken["fare_products.txt"] = files["fare_products.txt"].replace(b"3.30,EUR", b"three,EUR")
    archive = tmp_path / "fares.zip"
    archive.write_bytes(zip_files(broken))
    assert await _maas(["fares", "import", "--operator", operator_id, str(archive)]) == 1
    err = capsys.readouterr().err
    assert "fare_products.txt:2 amount" in err
