"""A real `maas serve` killed with SIGKILL at each step of a confirm and a cancel, then restarted.

Two TOMP back-ends (fakes in this process) hold the gateway's call at a gate
while the test kills the gateway: before either operator acted, between the
two (one acted and answered, the other not), and after both acted but before
they answered. After a restart the recovery task must bring the gateway and
every operator to the same state, with a ticket for every committed leg and
none for an uncommitted one, asking each operator with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from gateway import credentials
from tests.conftest import bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import day_ticket_offer, operator_with_demo_fares
from tests.servers import fresh_database

ServerFactory = Callable[..., Awaitable[TestServer]]
#: How long the test waits for the gateway to start or a booking to settle, at most.
PATIENCE_S = 90.0


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: the gateway's recovery task must see only its bookings."""
    with fresh_database(tmp_path) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Gateway:
    """One `maas serve` process on a port of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.url = f"http://127.0.0.1:{env['MAAS_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Start the process and wait until it answers /health."""
        maas = Path(sys.executable).with_name("maas")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220, S603
                [str(maas), "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        async with asyncio.timeout(PATIENCE_S):
            while True:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    async with session.get(f"{self.url}/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finally, exactly like a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop the process if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@asynccontextmanager
async def _gateway(
    database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, aiohttp.ClientSession]]:
    env = {
        **os.environ,
        "MAAS_DATABASE_URL": database_url,
        "MAAS_REDIS_URL": redis_url,
        "MAAS_REDIS_PREFIX": f"maas-test:{uuid.uuid4().hex[:8]}:",
        "MAAS_HOST": "127.0.0.1",
        "MAAS_PORT": str(_free_port()),
        "MAAS_DATA_DIR": str(tmp_path / "gateway"),
        "MAAS_ALLOW_PRIVATE_URLS": "true",
        "MAAS_OPERATOR_TIMEOUT_S": "2",
        "MAAS_OPERATOR_ATTEMPTS": "1",
        "MAAS_EXPIRY_INTERVAL_S": "0.2",
        "MAAS_LOG_JSON": "false",
        "MAAS_LOG_LEVEL": "WARNING",
    }
    gateway = Gateway(env, tmp_path / "gateway.log")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            yield gateway, session
        finally:
            gateway.stop()


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: Any = None
) -> dict[str, Any]:
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    async with session.post(url, json=body, headers=headers) as resp:
        answer: dict[str, Any] = await resp.json(content_type=None)
        assert resp.status in (200, 201), answer
        return answer


async def _book(
    gateway: Gateway, session: aiohttp.ClientSession, key: str, operators: list[str]
) -> dict[str, Any]:
    offers = [
        await _post(session, f"{gateway.url}/v1/offers", key, day_ticket_offer(op))
        for op in operators
    ]
    body = {"offer_ids": [o["id"] for o in offers], "travellers": [{"rider_category": "adult"}]}
    booking = await _post(session, f"{gateway.url}/v1/bookings", key, body)
    assert booking["status"] == "PENDING", booking
    return booking


async def _settled(
    gateway: Gateway, session: aiohttp.ClientSession, key: str, booking_id: str
) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE_S):
        while True:
            async with session.get(
                f"{gateway.url}/v1/bookings/{booking_id}", headers=bearer(key)
            ) as resp:
                shown: dict[str, Any] = await resp.json()
            if shown["status"] not in ("CONFIRMING", "CANCELLING"):
                return shown
            await asyncio.sleep(0.2)


def _hold(fakes: list[FakeTomp], operation: str, step: str) -> list[FakeTomp]:
    """Set the gates for a kill at `step`; return the fakes the test waits on."""
    if step == "before":
        for fake in fakes:
            fake.gate_before, fake.drop_held = {operation}, True
        return fakes
    if step == "between":
        fakes[1].gate_before, fakes[1].drop_held = {operation}, True
        return fakes[1:]
    for fake in fakes:
        fake.gate_after = {operation}
    return fakes


async def _open(fakes: list[FakeTomp]) -> None:
    for fake in fakes:
        fake.gate_before, fake.gate_after = set(), set()
        fake.gate.set()
    await asyncio.sleep(0.1)  # let the held handlers finish (or drop) their dead requests


async def _assert_agreement(
    db: asyncpg.Pool, shown: dict[str, Any], fakes: list[FakeTomp], expected: str
) -> None:
    assert shown["status"] == expected, shown
    ticket = "VALID" if expected == "CONFIRMED" else "CANCELLED"
    for leg, fake in zip(shown["legs"], fakes, strict=True):
        assert fake.bookings == {"tomp-1": expected}
        assert leg["status"] == expected
        assert leg["ticket"]["status"] == ticket  # a ticket for every committed leg
        operation = "COMMIT" if expected == "CONFIRMED" else "CANCEL"
        keys = {c[3] for c in fake.calls if c[2].get("operation") == operation}
        assert len(keys) == 1, keys  # asked again, if at all, with the same idempotency key
    owed = await db.fetchval(
        "SELECT count(*) FROM bookings WHERE id = $1::uuid AND settle_after IS NOT NULL",
        shown["id"],
    )
    assert owed == 0


@pytest.mark.parametrize("operation", ["COMMIT", "CANCEL"])
@pytest.mark.parametrize("step", ["before", "between", "after"])
async def test_a_gateway_killed_mid_call_recovers_and_agrees_with_every_operator(
    aiohttp_server: ServerFactory,
    database_url: str,
    redis_url: str,
    db: asyncpg.Pool,
    tmp_path: Path,
    operation: str,
    step: str,
) -> None:
    fakes = [FakeTomp(), FakeTomp()]
    urls = [str((await aiohttp_server(f.app())).make_url("")) for f in fakes]
    operators = [
        await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url) for url in urls
    ]
    key = await credentials.create_key(db, "maas", f"crash-{step}", None, None)
    async with _gateway(database_url, redis_url, tmp_path) as (gateway, session):
        await gateway.start(session)
        booking = await _book(gateway, session, key, operators)
        path = f"{gateway.url}/v1/bookings/{booking['id']}"
        if operation == "CANCEL":
            confirmed = await _post(session, f"{path}/confirm", key)
            assert confirmed["status"] == "CONFIRMED", confirmed
        fakes[0].acted.clear()
        waited = _hold(fakes, operation, step)
        step_name = "confirm" if operation == "COMMIT" else "cancel"
        call = asyncio.create_task(_post(session, f"{path}/{step_name}", key))
        for fake in waited:
            await asyncio.wait_for(fake.held.wait(), PATIENCE_S)
        if step == "between":  # the first operator has acted (and answered)
            await asyncio.wait_for(fakes[0].acted.wait(), PATIENCE_S)
        gateway.kill()
        with pytest.raises(aiohttp.ClientError):
            await call
        await _open(fakes)
        await gateway.start(session)
        shown = await _settled(gateway, session, key, booking["id"])
    await _assert_agreement(db, shown, fakes, "CONFIRMED" if operation == "COMMIT" else "CANCELLED")
