"""Helpers of the fault suites: waiting for a condition, a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: How long a fault suite waits for the gateway to recover before it fails.
PATIENCE_S = 60.0


async def until(
    predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout_s: float = PATIENCE_S
) -> None:
    """Wait until `predicate()` holds (AssertionError naming `what` after `timeout_s`)."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                held = predicate()
                if not isinstance(held, bool):
                    held = await held
                if held:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None
