"""What an inspector checks offline: the JWKS and status lists over HTTP; `maas ticket verify`."""

import asyncio
import base64
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import main as maas_main
from sales.signing import rotate_key
from sales.statuslist import MEDIA_TYPE, read_status_list
from tests.conftest import bearer
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def _bought(
    client: Client, db: asyncpg.Pool, maas: str, operator_id: str | None = None
) -> tuple[str, str, str]:
    """Buy a cancellable day ticket (valid from 2030); return (operator, booking id, token)."""
    operator_id = operator_id or await operator_with_demo_fares(db)
    body = day_ticket_offer(operator_id)
    body["product"]["valid_from"] = "2030-01-01T00:00:00+02:00"
    _, booking = await book(client, maas, [(await offer(client, maas, body))["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(maas))
    confirmed = await resp.json()
    assert confirmed["status"] == "CONFIRMED", confirmed
    return operator_id, booking["id"], confirmed["legs"][0]["ticket"]["token"]


async def _maas(args: list[str]) -> int:
    # The command runs its own event loop, as it does from a shell: give it a thread.
    return await asyncio.to_thread(maas_main.main, args)


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
    operator_id, _, first = await _bought(client, db, maas)
    _, _, second = await _bought(client, db, maas, operator_id)
    refs = [_claims(t)["status"]["status_list"] for t in (first, second)]
    # The configured public URL (here the default), not whatever address a client used.
    assert {r["uri"] for r in refs} == {f"http://127.0.0.1:8080/v1/status-lists/{operator_id}"}
    assert refs[1]["idx"] == refs[0]["idx"] + 1


async def test_concurrent_sales_never_share_a_status_list_index(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    maas = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    await asyncio.gather(*(_bought(client, db, maas, operator_id) for _ in range(8)))
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
    operator_id, booking_id, token = await _bought(client, db, maas)
    _, _, kept = await _bought(client, db, maas, operator_id)
    path = f"/v1/status-lists/{operator_id}"
    before = await client.get(path)
    assert before.status == 200
    assert before.content_type == MEDIA_TYPE
    assert before.headers["Cache-Control"] == "public, max-age=300"
    etag = before.headers["ETag"]
    assert (await client.get(path, headers={"If-None-Match": etag})).status == 304
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    listed = read_status_list(await before.text(), jwks, datetime.now(UTC))
    idx, kept_idx = (_claims(t)["status"]["status_list"]["idx"] for t in (token, kept))
    assert not listed.is_revoked(idx)
    resp = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(maas))
    assert (await resp.json())["status"] == "CANCELLED"
    after = await client.get(path, headers={"If-None-Match": etag})
    assert after.status == 200
    listed = read_status_list(await after.text(), jwks, datetime.now(UTC))
    assert listed.is_revoked(idx)
    assert not listed.is_revoked(kept_idx)
    assert (await client.get("/v1/status-lists/no-such-operator")).status == 404


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
    operator_id, booking_id, token = await _bought(client, db, maas)
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
    _, _, token = await _bought(client, db, await make_key("maas"))
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
        "from gateway.main import main\n"
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
