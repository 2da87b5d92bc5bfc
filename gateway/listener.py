"""A LISTEN connection of its own that survives PostgreSQL restarts.

`Listener` connects, LISTENs on one channel and calls `notified` for every
notification and `caught_up` each time it (re)connects: notifications sent while
nobody listened are gone, so whoever it wakes must catch up from the database, never
from the payload. A lost connection (a restart, a terminated backend, a peer that
vanished and never closed it, found by a cheap query every `check_s`) calls
`disconnected` and is made again after `retry_s`. The timetable (`FeedListener`), the
cache (`CacheListener`) and the webhook dispatcher (`WakingListener`) each subclass it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from gateway.background import raise_if_cancelling, wait_set

log = logging.getLogger(__name__)

#: Wait between reconnection attempts, and between liveness checks of an idle connection.
RETRY_S = 1.0
CHECK_S = 10.0


class Listener:
    """LISTEN on `channel` until cancelled; a subclass says what each event does."""

    channel: str
    application_name: str

    def __init__(self, database_url: str, retry_s: float = RETRY_S, check_s: float = CHECK_S):
        self._url = database_url
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
                self.disconnected()
            raise_if_cancelling()  # a cancel 3.11's wait_for dropped: stop, not reconnect
            await asyncio.sleep(self.retry_s)

    async def _listen_once(self) -> None:
        """Connect, LISTEN, catch up, and return when the connection is lost."""
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
            self.caught_up()  # what was committed while nobody listened
            while not conn.is_closed():
                if await wait_set(lost, self.check_s):
                    return
                await conn.fetchval("SELECT 1", timeout=self.check_s)
        finally:
            await close_quietly(conn)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        self.notified(payload)

    def caught_up(self) -> None:
        """React to being connected (again): what was sent while not listening is lost."""

    def notified(self, payload: str) -> None:
        """React to a notification on the channel."""

    def disconnected(self) -> None:
        """React to losing the connection (it is being made again)."""


class WakingListener(Listener):
    """Calls `wake` on every notification and on every (re)connect."""

    def __init__(
        self,
        database_url: str,
        channel: str,
        wake: Callable[[], None],
        application_name: str,
        retry_s: float = RETRY_S,
        check_s: float = CHECK_S,
    ) -> None:
        super().__init__(database_url, retry_s, check_s)
        self.channel = channel
        self.application_name = application_name
        self._wake = wake

    def caught_up(self) -> None:
        """Wake: whatever was committed meanwhile is waiting."""
        self._wake()

    def notified(self, payload: str) -> None:
        """Wake: something was committed."""
        self._wake()


async def close_quietly(conn: asyncpg.Connection) -> None:
    """Close a connection that may already be broken, without waiting on a dead server.

    Stopping (the task cancelled) drops the socket at once; a graceful close could be cut
    by a second cancel and leave the socket open.
    """
    try:
        if (task := asyncio.current_task()) is None or not task.cancelling():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
    finally:
        if not conn.is_closed():
            conn.terminate()
