"""`maas serve --demo` (what `make run` starts): each banner command works as printed."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.demo.walkthrough import parse_banner, run_all
from tests.servers import fresh_database


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, as a newcomer's machine has."""
    with fresh_database(tmp_path, migrated=False) as url:
        yield url


def _read_banner(process: subprocess.Popen[str], timeout_s: float) -> str:
    """Return what the process printed up to the end of its banner (the `Docs:` line)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if seen[-1].startswith("Docs:"):
            return "".join(seen)
    raise AssertionError("no banner:\n" + "".join(seen))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_banner_command_works_in_order_as_printed(
    database_url: str, redis_url: str, tmp_path: Path, unused_tcp_port: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env |= {
        "MAAS_DATABASE_URL": database_url,
        "MAAS_REDIS_URL": redis_url,
        "MAAS_REDIS_PREFIX": f"walk-{unused_tcp_port}:",
        "MAAS_DATA_DIR": str(tmp_path / "data"),
        "MAAS_PORT": str(unused_tcp_port),
        "MAAS_LOG_LEVEL": "WARNING",
    }
    maas = Path(sys.executable).with_name("maas")
    process = subprocess.Popen(  # noqa: S603
        [str(maas), "serve", "--demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        commands = parse_banner(_read_banner(process, timeout_s=600))
        outputs = run_all(commands, tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    assert len(commands) >= 10
    assert "VALID" in outputs[-1]
