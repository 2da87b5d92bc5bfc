"""CPU seconds a benchmark's processes use while it runs: itself, the gateways, PostgreSQL.

On a shared machine the wall-clock rate says little about where the time goes; the
CPU each side spends per unit of work (here, per purchase) does. PostgreSQL's share is
that of the backends connected to the bench's database (the server's shared
processes, such as the WAL writer, are left out), read from /proc, so the bench must
run on the database's machine (it starts PostgreSQL's clients there anyway).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system, every thread) a process has used; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


async def backend_pids(url: str) -> list[int]:
    """Return the process ids of the PostgreSQL backends connected to the database of `url`."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


@dataclass
class CpuUse:
    """CPU seconds spent by each side over the measured stretches, and their wall time."""

    wall_s: float = 0.0
    client_s: float = 0.0
    gateways_s: list[float] = field(default_factory=list)
    postgres_s: float = 0.0

    def per_unit_ms(self, units: int) -> dict[str, float]:
        """Return each side's CPU milliseconds per unit of work (e.g. per purchase)."""
        return {
            "client": 1000 * self.client_s / units,
            "gateways": 1000 * sum(self.gateways_s) / units,
            "postgres": 1000 * self.postgres_s / units,
        }

    def busy(self) -> dict[str, float]:
        """Return each side's CPU seconds per wall second (1.0 is one core kept busy)."""
        wall = self.wall_s or 1.0
        return {
            "client": self.client_s / wall,
            "gateways": sum(self.gateways_s) / wall,
            "busiest gateway": max(self.gateways_s, default=0.0) / wall,
            "postgres": self.postgres_s / wall,
        }


class Stretch:
    """Measure one stretch of work: `async with Stretch(use, gateway_pids, url):`."""

    def __init__(self, use: CpuUse, gateway_pids: list[int], url: str) -> None:
        self.use, self.gateway_pids, self.url = use, gateway_pids, url

    async def __aenter__(self) -> Stretch:
        self.backends = await backend_pids(self.url)
        self.pg0 = {pid: cpu_s(pid) for pid in self.backends}
        self.gw0 = [cpu_s(pid) for pid in self.gateway_pids]
        self.client0 = time.process_time()
        self.wall0 = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        use = self.use
        use.wall_s += time.perf_counter() - self.wall0
        use.client_s += time.process_time() - self.client0
        spent = [cpu_s(pid) - s for pid, s in zip(self.gateway_pids, self.gw0, strict=True)]
        before = use.gateways_s or [0.0] * len(spent)
        use.gateways_s = [a + b for a, b in zip(before, spent, strict=True)]
        # A backend that ended meanwhile reads 0: its share is lost, never negative.
        use.postgres_s += sum(max(0.0, cpu_s(pid) - s) for pid, s in self.pg0.items())
