"""`maas ticket verify`: offline, with a status list, at a given time, and quick to start."""

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.cli import entry
from tests.conftest import bearer
from tests.sales.support import cancellable_ticket

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def _maas(args: list[str]) -> int:
    # The command runs its own event loop, as it does from a shell: give it a thread.
    return await asyncio.to_thread(entry.main, args)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")


@pytest.mark.usefixtures("cli_env")
async def test_verify_says_revoked_after_a_cancel_given_the_list_as_a_file_or_url(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    maas = await make_key("maas")
    operator_id, booking_id, token = await cancellable_ticket(client, db, maas)
    jwks, status = tmp_path / "jwks.json", tmp_path / "status.jwt"
    jwks.write_bytes(await (await client.get("/.well-known/jwks.json")).read())
    path = f"/v1/status-lists/{operator_id}"
    status_url = str(client.make_url(path))
    status.write_bytes(await (await client.get(path)).read())
    at = ["--at", "2030-01-01T12:00:00+02:00"]
    assert (
        await _maas(
            ["ticket", "verify", token, "--jwks", str(jwks), "--status-list", str(status), *at]
        )
        == 0
    )
    assert "not revoked" in capsys.readouterr().out
    await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(maas))
    # The morning's list does not know of the cancel; the list fetched now does.
    status.write_bytes(await (await client.get(path)).read())
    for source in (str(status), status_url):
        args = ["ticket", "verify", token, "--jwks", str(jwks), "--status-list", source, *at]
        assert await _maas(args) == 1
        assert "REVOKED" in capsys.readouterr().out
    # Without the list the signature alone still holds: revocation is not checked.
    assert await _maas(["ticket", "verify", token, "--jwks", str(jwks), *at]) == 0
    assert "revocation not checked" in capsys.readouterr().out


@pytest.mark.usefixtures("cli_env")
async def test_verify_at_a_time_checks_the_validity_then(
    client: Client,
    db: asyncpg.Pool,
    make_key: MakeKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, token = await cancellable_ticket(client, db, await make_key("maas"))
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(await (await client.get("/.well-known/jwks.json")).read())
    verify = ["ticket", "verify", token, "--jwks", str(jwks), "--at"]
    assert await _maas([*verify, "2029-12-31T23:00:00+02:00"]) == 1
    assert "INVALID (not_yet_valid)" in capsys.readouterr().out
    assert await _maas([*verify, "2030-01-01T12:00:00+02:00"]) == 0
    assert "VALID ticket" in capsys.readouterr().out
    assert await _maas([*verify, "2030-01-03T00:00:00+02:00"]) == 1
    assert "INVALID (expired)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        await _maas([*verify, "2030-01-01T12:00:00"])
    assert exited.value.code == 2
    assert "no UTC offset" in capsys.readouterr().err


def test_verify_starts_without_the_gateway_stack(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(orjson.dumps({"keys": []}))
    script = (
        "import sys\n"
        "from gateway.cli.entry import main\n"
        f"code = main(['ticket', 'verify', 'a.b.c', '--jwks', {str(jwks)!r}])\n"
        "heavy = ('aiohttp', 'asyncpg', 'numba', 'pandas', 'gtfs_kit', 'gtfs', 'journeys',"
        " 'pydantic', 'redis', 'operators')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "1 []"
    assert "INVALID (unknown_key)" in done.stdout
