"""`maas serve` processes of one test's own, on loopback ports, and a client that tells outcomes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from gateway import embedded

#: Start-up of one process (migrations, the first timetable) on a loaded machine.
START_S = 120.0


class Serve:
    """One `maas serve` child process; its output goes to a log file in its folder."""

    def __init__(self, folder: Path, env: Mapping[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = embedded._free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "maas.log"
        environment = dict(os.environ) | dict(env)
        environment |= {"MAAS_PORT": str(self.port), "MAAS_DATA_DIR": str(folder)}
        maas = Path(sys.executable).with_name("maas")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [str(maas), "serve"], env=environment, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        """Wait until /ready answers 200 (RuntimeError with the log's tail if it never does)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"maas serve on {self.port} did not become ready:\n{tail}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 15 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(folder: Path, count: int, env: Mapping[str, str]) -> Iterator[list[Serve]]:
    """Run `count` gateway processes on one database and Redis; stop them afterwards."""
    env = {"MAAS_REDIS_PREFIX": f"maas-faults:{uuid.uuid4().hex[:8]}:"} | dict(env)
    with ExitStack() as stack:
        processes = []
        for i in range(count):
            serve = Serve(folder / f"gateway-{i}", env)
            stack.callback(serve.stop)
            processes.append(serve)
        for serve in processes:
            serve.wait_ready()
        yield processes


#: Answers that say nothing about what happened: the client must ask again with its key.
UNKNOWN = frozenset({500, 502, 503, 504})
#: 409s that say "not yet": the request (or an earlier one with its key) is still under way.
NOT_YET = frozenset({"idempotency_key_in_progress", "booking_busy"})


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    """Make one request; a broken connection or a timeout is status 0 (outcome unknown)."""
    try:
        async with session.request(method, url, **kwargs) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else {}
            return resp.status, body if isinstance(body, dict) else {}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return 0, {}


def unknown(status: int, body: Mapping[str, Any]) -> bool:
    """Tell whether an answer leaves the outcome unknown (retry with the same key)."""
    if status == 0 or status in UNKNOWN:
        return True
    return status == 409 and body.get("code") in NOT_YET


async def pause(seconds: float) -> None:
    """Back off between retries."""
    await asyncio.sleep(seconds)
