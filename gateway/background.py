"""Stopping the gateway's background tasks for certain.

Python 3.11's `asyncio.wait_for` (and the timeouts inside libraries built on it) can
swallow a cancel that lands as their own wait ends: the task is left `cancelling()` yet
runs on as if never asked, and whoever awaits it waits forever. Loops wait on events
with `wait_set` (built on `asyncio.timeout`, which keeps the cancel) and check
`raise_if_cancelling` after a library's own timeout; `stop` repeats the cancel until each
task ends, whatever a library under it did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

#: How long `stop` waits for a cancelled task before cancelling it again.
RECANCEL_S = 1.0


def raise_if_cancelling() -> None:
    """Honour a cancellation that a timeout inside a library turned into an ordinary return."""
    if (task := asyncio.current_task()) is not None and task.cancelling():
        raise asyncio.CancelledError


async def wait_set(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` passes; return whether it was set.

    `asyncio.timeout` rather than `wait_for`: it never swallows a cancel that lands as
    the event is set or the time runs out.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def stop(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and return once every one has ended, cancelling again any that ran on."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
        for task in pending:
            log.warning(
                "task %s ran on after its cancel (now at %s); cancelling it again",
                task.get_name(),
                _where(task),
            )
            task.cancel()
    for task in tasks:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("task %s failed while stopping", task.get_name(), exc_info=exc)


def _where(task: asyncio.Task[Any]) -> str:
    """Return where a suspended task waits: its chain of awaits, as file:line each."""
    chain: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        if (frame := getattr(coro, "cr_frame", None)) is not None:
            chain.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None)
    return " > ".join(chain) or "?"
