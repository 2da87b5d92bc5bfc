"""Polling operators' GTFS-Realtime URLs: conditional requests, timeouts, backoff on failure.

One task per configured (operator, feed kind). Across gateway processes a
short Redis lease picks the one that polls, so an operator's server sees one
client however many processes run; with Redis down every process polls for itself.
Redirects are not followed (a public URL could send the gateway to its own
metadata service), and a URL is logged without its query, which often holds a key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from gateway.background import raise_if_cancelling, stop, wait_set
from gateway.problems import Problem
from gateway.realtime.sources import FEED_KINDS, FeedKind, list_sources
from gateway.uploads import read_limited
from gtfs.realtime.read import RealtimeFeedError

log = logging.getLogger(__name__)

#: One request to an operator's server gives up after this long.
POLL_TIMEOUT_S = 10.0
#: The longest wait between polls of a failing server.
MAX_BACKOFF_S = 600.0
#: A feed larger than this is refused (a national feed is a few megabytes).
MAX_FEED_BYTES = 64 * 1024 * 1024
#: How often the configured sources are read again (a local change wakes it at once).
SOURCES_REFRESH_S = 5.0

Ingest = Callable[[str, FeedKind, bytes], Awaitable[Any]]
Lease = Callable[[str, FeedKind, float], Awaitable[bool]]


class PollFailure(Exception):
    """The operator's server answered with something other than a feed."""


def redact_url(url: str) -> str:
    """Return a URL without its query, fragment and credentials: fit for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = "?..." if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


@dataclass(slots=True)
class PollStatus:
    """What the last polls of one URL did (JSON-ready)."""

    url: str
    interval_s: float
    polls: int = 0
    not_modified: int = 0
    failures: int = 0
    last_polled_s: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    next_delay_s: float = 0.0
    polled_here: bool = False
    etag: str | None = None
    last_modified: str | None = None


def next_delay_s(interval_s: float, failures: int) -> float:
    """Return the wait before the next poll: the interval, doubled per consecutive failure."""
    backoff_s: float = interval_s * 2.0 ** min(failures, 20)
    return min(backoff_s, max(MAX_BACKOFF_S, interval_s))


class Poller:
    """Keeps one polling task per configured URL in step with the realtime_sources table."""

    def __init__(
        self, pool: asyncpg.Pool, http: aiohttp.ClientSession, ingest: Ingest, lease: Lease
    ) -> None:
        self._pool = pool
        self._http = http
        self._ingest = ingest
        self._lease = lease
        self._tasks: dict[tuple[str, FeedKind], tuple[str, float, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self.status: dict[tuple[str, FeedKind], PollStatus] = {}

    def request_refresh(self) -> None:
        """Read the sources again now (after a local change)."""
        self._wake.set()

    async def run(self) -> None:
        """Reconcile polling tasks with the configured sources until cancelled."""
        try:
            while True:
                try:
                    await self._reconcile()
                except (asyncpg.PostgresError, OSError) as exc:
                    log.warning("reading realtime sources failed", extra={"error": repr(exc)})
                await wait_set(self._wake, SOURCES_REFRESH_S)
                self._wake.clear()
        finally:
            await stop(*(task for _, _, task in self._tasks.values()))

    async def _reconcile(self) -> None:
        wanted: dict[tuple[str, FeedKind], tuple[str, float]] = {}
        for sources in await list_sources(self._pool):
            for kind in FEED_KINDS:
                if url := sources.url(kind):
                    wanted[(sources.operator_id, kind)] = (url, sources.poll_interval_s)
        for key, (url, interval_s, task) in list(self._tasks.items()):
            if wanted.get(key) != (url, interval_s):
                task.cancel()
                del self._tasks[key]
                self.status.pop(key, None)
        for key, (url, interval_s) in wanted.items():
            if key not in self._tasks:
                task = asyncio.create_task(self._poll_loop(*key, url, interval_s))
                self._tasks[key] = (url, interval_s, task)

    async def _poll_loop(
        self, operator_id: str, kind: FeedKind, url: str, interval_s: float
    ) -> None:
        status = PollStatus(url, interval_s, next_delay_s=interval_s)
        self.status[(operator_id, kind)] = status
        while True:
            hold_s = 2 * status.next_delay_s + POLL_TIMEOUT_S
            status.polled_here = await self._lease(operator_id, kind, hold_s)
            if status.polled_here:
                await self.poll_once(operator_id, kind, status)
                status.next_delay_s = next_delay_s(interval_s, status.failures)
            raise_if_cancelling()
            await asyncio.sleep(status.next_delay_s)

    async def poll_once(self, operator_id: str, kind: FeedKind, status: PollStatus) -> None:
        """Fetch one URL (conditionally) and ingest what changed; count a failure otherwise."""
        status.polls += 1
        status.last_polled_s = time.time()
        try:
            fetched = await self._fetch(status)
            if fetched is not None:
                data, etag, last_modified = fetched
                await self._ingest(operator_id, kind, data)
                status.etag, status.last_modified = etag, last_modified
            status.failures = 0
            status.last_error = None
        except (aiohttp.ClientError, OSError, PollFailure, RealtimeFeedError) as exc:
            status.failures += 1
            # Never echo the body: the URL may point somewhere the operator should not read.
            error = str(exc).replace(status.url, redact_url(status.url))
            status.last_error = (
                f"{type(exc).__name__}: the answer is not a usable GTFS-Realtime feed"
                if isinstance(exc, RealtimeFeedError)
                else f"{type(exc).__name__}: {error}"
            )
            log.info(
                "polling a realtime feed failed",
                extra={"url": redact_url(status.url), "error": error},
            )
        except Problem as problem:
            # Our side is not ready (no timetable yet): no reason to back off from theirs.
            status.last_error = problem.detail or problem.title
        except Exception as exc:  # the loop must outlive one bad poll (a bug here included)
            status.failures += 1
            status.last_error = f"{type(exc).__name__}: the feed could not be applied"
            log.exception(
                "applying a polled realtime feed failed", extra={"url": redact_url(status.url)}
            )

    async def _fetch(self, status: PollStatus) -> tuple[bytes, str | None, str | None] | None:
        """Return (body, ETag, Last-Modified), or None when the server says nothing changed."""
        headers = {"Accept": "application/x-protobuf, application/octet-stream;q=0.9, */*;q=0.1"}
        if status.etag:
            headers["If-None-Match"] = status.etag
        if status.last_modified:
            headers["If-Modified-Since"] = status.last_modified
        timeout = aiohttp.ClientTimeout(total=POLL_TIMEOUT_S, connect=min(5.0, POLL_TIMEOUT_S))
        async with self._http.get(
            status.url, headers=headers, timeout=timeout, allow_redirects=False
        ) as resp:
            status.last_status = resp.status
            if resp.status == 304:
                status.not_modified += 1
                return None
            if 300 <= resp.status < 400:
                raise PollFailure(
                    f"HTTP {resp.status}: redirects are not followed; configure the feed's own URL"
                )
            if resp.status != 200:
                raise PollFailure(f"HTTP {resp.status} from {redact_url(status.url)}")
            too_large = PollFailure(f"feed larger than {MAX_FEED_BYTES} bytes")
            data = await read_limited(resp.content, MAX_FEED_BYTES, too_large)
            return data, resp.headers.get("ETag"), resp.headers.get("Last-Modified")
