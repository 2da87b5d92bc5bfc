"""Sharing realtime feeds between gateway processes through Redis.

The process that receives a feed stores its raw bytes under a key with a TTL
and publishes them on a channel; every other process applies them to its own
snapshot. A process that starts, or whose subscription was broken, catches up
from the keys (`resync`), so a lost message costs at most one resync interval.
When Redis is down, each process keeps what it received itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.problems import Problem
from gateway.realtime.poller import raise_if_cancelling
from gateway.realtime.sources import FEED_KINDS, FeedKind
from gateway.realtime.state import FEED_TTL_S, POSITIONS_TTL_S, FeedBytes, RealtimeState
from gateway.redisguard import RedisGuard
from gtfs.realtime.read import RealtimeFeedError

log = logging.getLogger(__name__)

#: Even with a healthy subscription, compare with the stored stamps this often.
RESYNC_S = 10.0
#: Wait before subscribing again after Redis failed.
RETRY_S = 1.0


def encode(feed: FeedBytes, origin: str) -> bytes:
    """Pack a feed and the process that received it into one Redis value."""
    header = {
        "operator_id": feed.operator_id,
        "kind": feed.kind,
        "received_s": feed.received_s,
        "stamp": feed.stamp,
        "origin": origin,
    }
    return orjson.dumps(header) + b"\n" + feed.data


def decode(blob: bytes) -> tuple[FeedBytes, str]:
    """Unpack a Redis value into the feed and the id of the process that received it."""
    head, _, data = blob.partition(b"\n")
    header = orjson.loads(head)
    kind = header["kind"]
    if kind not in FEED_KINDS:
        raise ValueError(f"unknown feed kind {kind!r}")
    feed = FeedBytes(
        header["operator_id"], kind, data, float(header["received_s"]), header["stamp"]
    )
    return feed, str(header["origin"])


class RealtimeBus:
    """Publishes this process's feeds and applies every other process's."""

    def __init__(self, guard: RedisGuard, redis_url: str, state: RealtimeState) -> None:
        self.guard = guard
        self.state = state
        self.origin = uuid.uuid4().hex
        self._redis_url = redis_url
        self.channel = guard.key("rt", "events")
        self._stamps = guard.key("rt", "stamps")
        self.connected = False
        self._resync_now = asyncio.Event()

    def request_resync(self) -> None:
        """Catch up from Redis soon (after a timetable swap, feeds held back may now apply)."""
        self._resync_now.set()

    def new_stamp(self) -> str:
        """Return a stamp that orders feeds across processes (time first, then origin)."""
        return f"{time.time_ns():020d}-{self.origin}"

    def _feed_key(self, operator_id: str, kind: FeedKind) -> str:
        return self.guard.key("rt", "feed", operator_id, kind)

    async def publish(self, feed: FeedBytes) -> bool:
        """Store and announce a feed; False when Redis is down (it then stays local)."""
        blob = encode(feed, self.origin)
        ttl_s = POSITIONS_TTL_S if feed.kind == "vehicle-positions" else FEED_TTL_S
        field = f"{feed.operator_id}|{feed.kind}"

        async def send(client: aioredis.Redis) -> bool:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(self._feed_key(feed.operator_id, feed.kind), blob, ex=ttl_s)
                pipe.hset(self._stamps, field, feed.stamp)
                pipe.publish(self.channel, blob)
                await pipe.execute()
            return True

        return await self.guard.call(send, False)

    async def run(self) -> None:
        """Subscribe and apply other processes' feeds until cancelled, reconnecting on failure."""
        # Not through the guard: a subscription blocks for long, which its short timeout forbids.
        client = aioredis.Redis.from_url(
            self._redis_url, socket_connect_timeout=2, socket_timeout=10
        )
        try:
            while True:
                try:
                    await self._subscribed(client)
                except (RedisError, OSError, TimeoutError) as exc:
                    raise_if_cancelling()
                    self.connected = False
                    log.warning("realtime bus lost redis; retrying", extra={"error": repr(exc)})
                    await asyncio.sleep(RETRY_S)
        finally:
            self.connected = False
            await client.aclose()

    async def _subscribed(self, client: aioredis.Redis) -> None:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            self.connected = True
            await self.resync(client)
            next_resync = time.monotonic() + RESYNC_S
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                raise_if_cancelling()
                if message is not None and message["type"] == "message":
                    await self._received(message["data"])
                if time.monotonic() >= next_resync or self._resync_now.is_set():
                    self._resync_now.clear()
                    await self.resync(client)
                    next_resync = time.monotonic() + RESYNC_S

    async def resync(self, redis_client: aioredis.Redis) -> None:
        """Apply every stored feed that is newer than the one this process holds."""
        stamps = await redis_client.hgetall(self._stamps)
        for raw_field, raw_stamp in stamps.items():
            field, stamp = _text(raw_field), _text(raw_stamp)
            operator_id, _, kind = field.partition("|")
            held = self.state.find_feed(operator_id, kind)  # type: ignore[arg-type]
            if held is not None and held.feed.stamp >= stamp:
                continue
            blob = await redis_client.get(self._feed_key(operator_id, kind))  # type: ignore[arg-type]
            if blob is None:
                await redis_client.hdel(self._stamps, field)  # expired: nothing to catch up
                continue
            await self._received(blob if isinstance(blob, bytes) else blob.encode(), own_too=True)

    async def _received(self, blob: bytes, own_too: bool = False) -> None:
        try:
            feed, origin = decode(blob)
        except (ValueError, KeyError) as exc:
            log.warning("ignoring a malformed realtime bus message", extra={"error": repr(exc)})
            return
        if origin == self.origin and not own_too:
            return
        try:
            await self.state.apply(feed)
        except Problem:
            pass  # no timetable yet: the first swap triggers a resync
        except RealtimeFeedError as exc:
            log.warning("a shared realtime feed does not decode", extra={"error": str(exc)})
        except Exception:  # one bad feed must not end this process's subscription
            log.exception("applying a shared realtime feed failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
