"""What the HTTP benchmarks share: a scratch database, a free port, `maas serve` in a child process.

The database is created on the local PostgreSQL named by MAAS_TEST_DATABASE_URL
(default 127.0.0.1:5432/test) as `maas_bench_<hex>` and dropped afterwards;
the gateway uses the Redis of MAAS_TEST_REDIS_URL under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

ADMIN_URL = os.environ.get("MAAS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def db_url(name: str) -> str:
    """Return the URL of database `name` on the server of ADMIN_URL."""
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """Create an empty database, yield its URL, drop it (even when the benchmark fails)."""
    name = f"maas_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield db_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def start_gateway(
    url: str, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `maas serve` on a database and port; BENCH_PROFILE=<file> runs it under py-spy."""
    workdir = tempfile.mkdtemp(prefix="maas_bench_")
    settings = {
        "MAAS_DATABASE_URL": url,
        "MAAS_REDIS_URL": REDIS_URL,
        "MAAS_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
        "MAAS_PORT": str(port),
        "MAAS_DATA_DIR": workdir,
        "MAAS_LOG_LEVEL": "WARNING",
        "MAAS_RATE_LIMIT_REQUESTS": "10000000",
        "MAAS_RATE_LIMIT_ANONYMOUS_REQUESTS": "10000000",
    }
    command = [str(Path(sys.executable).with_name("maas")), "serve"]
    if os.environ.get("BENCH_PROFILE"):  # a flame graph of the gateway under this load
        spy = Path(sys.executable).with_name("py-spy")
        profile = os.environ["BENCH_PROFILE"]
        command = [str(spy), "record", "-f", "raw", "-o", profile, "--", *command]
    full_env = os.environ | settings | (env or {})
    return subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL)  # noqa: S603


def stop_gateway(process: subprocess.Popen[bytes]) -> None:
    """Stop a gateway the way an operator would (SIGINT) and wait for it."""
    process.send_signal(signal.SIGINT)
    process.wait()


async def wait_ready(base: str, timetable: bool = False, timeout_s: float = 120.0) -> None:
    """Wait until `/ready` answers 200 (and, if asked, reports the timetable built)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            try:
                async with session.get(f"{base}/ready") as resp:
                    body = await resp.json()
                    if resp.status == 200 and (not timetable or body.get("timetable") == "ok"):
                        return
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


@asynccontextmanager
async def running_gateway(url: str, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Start a gateway on a free port, yield its base URL once it answers, then stop it."""
    port = free_port()
    process = start_gateway(url, port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        yield base
    finally:
        stop_gateway(process)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) of durations given in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
