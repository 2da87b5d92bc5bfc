"""Purchases/s of this tree's gateway against another tree's, in interleaved rounds.

Both gateways run at once on one scratch database (one process each, a port each),
and the rounds alternate: the other tree's purchases, the reference, this tree's
purchases, the reference, and so on, so a change is measured against the code it
changes on the same machine at the same time. Each prints what `bench/booking.py`
prints for its part (rate, p50/p95/p99, reference, ratio, CPU per purchase).

Usage: python bench/booking_versus.py OTHER_TREE [--purchases N] [--rounds R]
where OTHER_TREE holds another commit's code, e.g. made with
`git archive <commit> | tar -x -C OTHER_TREE`; it runs with this tree's interpreter
and installed dependencies (a dependency only one side has must be installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from pathlib import Path

import asyncpg
from booking import (
    CLIENTS,
    POOL,
    _load,
    _prepare,
    _reference,
    _reference_connections,
    _report,
    reference_pool,
)
from cpu import CpuUse, Stretch
from support import running_gateways, scratch_database


class Side:
    """One gateway's figures, gathered over the rounds."""

    def __init__(self, base: str, pids: list[int]) -> None:
        self.base, self.pids = base, pids
        self.elapsed, self.latencies, self.use = 0.0, list[float](), CpuUse()
        self.ref_done, self.ref_s = 0, 0.0


async def _round(side: Side, url: str, key: str, purchases: int, ref: asyncpg.Pool) -> None:
    async with Stretch(side.use, side.pids, url):
        took, more = await asyncio.wait_for(_load(side.base, key, purchases), 600)
    side.elapsed += took
    side.latencies += more
    done, s = await _reference(ref)
    side.ref_done, side.ref_s = side.ref_done + done, side.ref_s + s


async def main(args: argparse.Namespace) -> None:
    """Run both gateways, alternate their rounds, print both sides' figures."""
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    async with scratch_database() as url:
        key = await _prepare(url)
        connections = await _reference_connections(url)
        async with contextlib.AsyncExitStack() as stack:
            ref = await stack.enter_async_context(reference_pool(url, connections))
            other = await stack.enter_async_context(
                running_gateways(url, [POOL], source=args.other)
            )
            this = await stack.enter_async_context(running_gateways(url, [POOL]))
            sides = {
                f"other tree ({args.other})": Side(other.base, [p.pid for p in other.processes]),
                "this tree": Side(this.base, [p.pid for p in this.processes]),
            }
            for side in sides.values():  # warm-up: connections, caches
                await asyncio.wait_for(_load(side.base, key, 200), 120)
            for _ in range(args.rounds):
                for side in sides.values():
                    await _round(side, url, key, args.purchases // args.rounds, ref)
    print(f"started {started}, {CLIENTS} clients, one process each")
    rates = []
    for name, side in sides.items():
        rate, reference = len(side.latencies) / side.elapsed, side.ref_done / side.ref_s
        rates.append(rate / reference)
        _report(name, rate, sorted(side.latencies), reference, side.use)
    print(f"this tree / other tree, against each one's reference: {rates[1] / rates[0]:.2f}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="a tree with another commit's code")
    parser.add_argument("--purchases", type=int, default=900, help="purchases per side")
    parser.add_argument("--rounds", type=int, default=6, help="rounds each side is split into")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
