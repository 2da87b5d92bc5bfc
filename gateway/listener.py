"""A LISTEN connection of its own that survives PostgreSQL restarts.

`Listener` connects, LISTENs on one channel and calls `wake` for every notification,
and also once each time it (re)connects: notifications sent while nobody listened are
gone, so whoever it wakes must catch up from the database, never from the payload. A
lost connection (a restart, a terminated backend, a peer that vanished and never closed
it, found by a cheap query every `check_s`) is made again after `retry_s`.
`gateway.timetable.FeedListener` is the same pattern, kept with its own counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


class Listener:
    """LISTEN on `channel` until cancelled, calling `wake` on each notification and connect."""

    def __init__(
        self,
        database_url: str,
        channel: str,
        wake: Callable[[], None],
        application_name: str,
        retry_s: float = 1.0,
        check_s: float = 10.0,
    ) -> None:
        self._url = database_url
        self.channel = channel
        self._wake = wake
        self.application_name = application_name
        self.retry_s = retry_s
        self.check_s = check_s
        self.connected = False
        #: How often it has connected (the first time included), and notifications received.
        self.connections = 0
        self.notifications = 0

    async def run(self) -> None:
        """Listen until cancelled, connecting again whenever the connection is lost."""
        while True:
            try:
                await self._listen_once()
            except Exception as exc:  # PostgreSQL restarting: refused, shutting down, reset
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    # Stopping: whatever failed meanwhile, the task ends as cancelled.
                    raise asyncio.CancelledError from exc
                log.warning(
                    "LISTEN connection lost; reconnecting",
                    extra={"channel": self.channel, "error": repr(exc)},
                )
            finally:
                self.connected = False
            await asyncio.sleep(self.retry_s)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(
            self._url,
            timeout=self.check_s,
            server_settings={"application_name": self.application_name},
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self.channel, self._notified)
            self.connected = True
            self.connections += 1
            self._wake()  # what was committed while nobody listened
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.check_s)
                    return
                await conn.fetchval("SELECT 1", timeout=self.check_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, *_: Any) -> None:
        self.notifications += 1
        self._wake()
