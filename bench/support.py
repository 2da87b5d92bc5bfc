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
import threading
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
    url: str,
    port: int,
    env: dict[str, str] | None = None,
    stdout: bool = False,
    stderr: bool = False,
    source: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `maas serve` on a database and port; BENCH_PROFILE=<file> runs it under py-spy.

    With `stdout` its output is a pipe the caller reads (`running_gateways` does); with
    `stderr` its log lines are (`bench/import.py` reads the publishing child's peak there).
    With `source`, the gateway's code comes from that tree (e.g. a `git archive` of another
    commit), run by this interpreter with the same installed dependencies.
    """
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
    if source is not None:
        settings["PYTHONPATH"] = str(source.resolve())
        command = [sys.executable, "-m", "gateway.cli.entry", "serve"]
    if os.environ.get("BENCH_PROFILE"):  # a flame graph of the gateway under this load
        spy = Path(sys.executable).with_name("py-spy")
        profile = os.environ["BENCH_PROFILE"]
        command = [str(spy), "record", "-f", "raw", "-o", profile, "--", *command]
    full_env = os.environ | settings | (env or {})
    out = subprocess.PIPE if stdout else subprocess.DEVNULL
    err = subprocess.PIPE if stderr else None
    # From its own directory: `python -m` puts the working directory first on the path.
    cwd = None if source is None else source.resolve()
    return subprocess.Popen(command, env=full_env, stdout=out, stderr=err, cwd=cwd)  # noqa: S603


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


def _cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Gateways:
    """Several `maas serve` processes sharing one port (SO_REUSEPORT), and their CPU use."""

    def __init__(self, base: str, processes: list[subprocess.Popen[bytes]]) -> None:
        self.base = base
        self.processes = processes

    def cpu_s(self) -> list[float]:
        """Return the CPU seconds each process has used so far."""
        return [_cpu_s(p.pid) for p in self.processes]


def _await_line(process: subprocess.Popen[bytes], marker: bytes, timeout_s: float) -> None:
    """Read the process's stdout until a line holds `marker`; then keep draining it."""
    stream = process.stdout
    if stream is None:
        raise ValueError("start the gateway with stdout=True")
    found = threading.Event()

    def read() -> None:
        for line in stream:
            if marker in line:
                found.set()
        found.set()  # the process ended: let the waiter see it

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout_s) or process.poll() is not None:
        raise RuntimeError(f"the gateway did not print {marker!r} (exit {process.poll()})")


@asynccontextmanager
async def running_gateways(
    url: str,
    envs: Sequence[dict[str, str]],
    timeout_s: float = 300.0,
    source: Path | None = None,
) -> AsyncIterator[Gateways]:
    """Start one gateway per env on one port, each once the previous listens; stop them all.

    Every process binds with `MAAS_REUSE_PORT`, so the kernel spreads connections across
    them as it would behind a proxy. Yields when each has printed that it listens and
    twenty fresh connections in a row found a built timetable.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for env in envs:
            reuse = {"MAAS_REUSE_PORT": "true"} | env
            process = start_gateway(url, port, reuse, stdout=True, source=source)
            processes.append(process)
            await asyncio.to_thread(_await_line, process, b"MaaS Gateway ready", timeout_s)
        await _all_built(base, timeout_s)
        yield Gateways(base, processes)
    finally:
        for process in processes:
            stop_gateway(process)


async def _all_built(base: str, timeout_s: float) -> None:
    """Wait until twenty new connections in a row reach a process with its timetable built."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    in_a_row = 0
    while in_a_row < 20:
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("not every gateway built its timetable")
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as s, s.get(f"{base}/ready") as resp:
            built = resp.status == 200 and (await resp.json()).get("timetable") == "ok"
        in_a_row = in_a_row + 1 if built else 0
        if not built:
            await asyncio.sleep(0.2)
