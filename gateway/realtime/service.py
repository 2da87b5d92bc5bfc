"""The realtime service of one process: state, bus and poller, wired as a cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from gateway.appkeys import (
    db_key,
    public_http_key,
    realtime_key,
    redis_key,
    redis_url_key,
    timetable_key,
)
from gateway.background import raise_if_cancelling, stop
from gateway.realtime.bus import RealtimeBus
from gateway.realtime.out import MergedFeeds
from gateway.realtime.poller import Poller
from gateway.realtime.sources import FeedKind
from gateway.realtime.state import AppliedFeed, FeedBytes, RealtimeState
from gateway.timetable import TimetableStore

log = logging.getLogger(__name__)


class Realtime:
    """Everything realtime in one process: what it holds, how it shares and polls."""

    def __init__(
        self, timetables: TimetableStore, bus: RealtimeBus, poller: Poller | None = None
    ) -> None:
        self.timetables = timetables
        self.state = bus.state
        self.bus = bus
        self.poller = poller
        self.merged = MergedFeeds(bus.state)

    async def ingest(self, operator_id: str, kind: FeedKind, data: bytes) -> AppliedFeed:
        """Apply a received feed here, then share it (raises `RealtimeFeedError`, keeping state)."""
        feed = FeedBytes(operator_id, kind, data, time.time(), self.bus.new_stamp())
        applied = await self.state.apply(feed)
        if not await self.bus.publish(feed):
            log.warning("redis is down: a realtime feed is shared once redis answers again")
        return applied

    async def lease(self, operator_id: str, kind: FeedKind, hold_s: float) -> bool:
        """Tell whether this process polls a source now (True, too, when Redis is down)."""
        key = self.bus.guard.key("rt", "poll", operator_id, kind)
        origin = self.bus.origin
        hold_ms = max(int(hold_s * 1000), 1)

        async def take(client: aioredis.Redis) -> bool:
            if await client.set(key, origin, nx=True, px=hold_ms):
                return True
            holder = await client.get(key)
            if holder in (origin, origin.encode()):
                await client.pexpire(key, hold_ms)
                return True
            return False

        return await self.bus.guard.call(take, True)

    async def follow_timetable(self) -> None:
        """Re-apply every feed to each new timetable, and catch up from Redis after each swap."""
        seen = [-1]
        while True:
            with contextlib.suppress(TimeoutError):
                timetable = await self.timetables.wait_for(
                    lambda t: t.generation != seen[0], timeout_s=3600
                )
                seen[0] = timetable.generation
                await self.state.reapply_all()
                self.bus.request_resync()
            raise_if_cancelling()


async def realtime_context(app: web.Application) -> AsyncIterator[None]:
    """Run the bus subscriber, the timetable follower and the poller of this process."""
    timetables = app[timetable_key]
    bus = RealtimeBus(app[redis_key], app[redis_url_key], RealtimeState(timetables.get))
    realtime = Realtime(timetables, bus)
    realtime.poller = Poller(app[db_key], app[public_http_key], realtime.ingest, realtime.lease)
    app[realtime_key] = realtime
    tasks = [
        asyncio.create_task(bus.run(), name="realtime-bus"),
        asyncio.create_task(realtime.follow_timetable(), name="realtime-follow"),
        asyncio.create_task(realtime.poller.run(), name="realtime-poller"),
    ]
    yield
    await stop(*tasks)
