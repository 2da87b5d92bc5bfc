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

from gateway.background import raise_if_cancelling
from gateway.problems import Problem
from gateway.realtime.sources import FEED_KINDS, FeedKind
from gateway.realtime.state import FEED_TTL_S, POSITIONS_TTL_S, FeedBytes, RealtimeState
from gateway.redisguard import RedisGuard
from gtfs.realtime.read import RealtimeFeedError

log = logging.getLogger(__name__)

#: Even with a healthy subscription, compare with the stored stamps this often.
RESYNC_S = 10.0
#: Wait before subscribing again after Redis failed.
RETRY_S = 1.0

#: Store, stamp and announce a feed unless a newer one is stored (KEYS: feed, stamps).
_PUBLISH_IF_NEWER = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held and held >= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 1
"""


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
        #: Feeds whose publish failed: republished as soon as the subscription answers.
        self._unshared: set[tuple[str, FeedKind]] = set()

    def request_resync(self) -> None:
        """Catch up from Redis soon (after a timetable swap, feeds held back may now apply)."""
        self._resync_now.set()

    def new_stamp(self) -> str:
        """Return a stamp that orders feeds across processes (time first, then origin)."""
        return f"{time.time_ns():020d}-{self.origin}"

    def _feed_key(self, operator_id: str, kind: FeedKind) -> str:
        return self.guard.key("rt", "feed", operator_id, kind)

    async def publish(self, feed: FeedBytes) -> bool:
        """Store and announce a feed; False when Redis is down (it is shared once Redis is back)."""
        shared = await self.guard.call(lambda client: self._send(client, feed), None)
        if shared is None:
            self._unshared.add((feed.operator_id, feed.kind))
            return False
        return True

    async def _send(self, client: aioredis.Redis, feed: FeedBytes) -> bool:
        """Store and announce one feed unless Redis holds a newer one; False when it does."""
        ttl_s = POSITIONS_TTL_S if feed.kind == "vehicle-positions" else FEED_TTL_S
        left_ms = int((feed.received_s + ttl_s - time.time()) * 1000)
        if left_ms <= 0:
            return False  # expired: every process drops it too
        keys = (self._feed_key(feed.operator_id, feed.kind), self._stamps)
        field = f"{feed.operator_id}|{feed.kind}"
        args = (field, feed.stamp, encode(feed, self.origin), left_ms, self.channel)
        stored = await client.eval(_PUBLISH_IF_NEWER, 2, *keys, *args)
        return bool(stored)

    async def republish(self, client: aioredis.Redis, everything: bool = False) -> int:
        """Share the feeds held here that a publish missed (or all); return how many were stored."""
        missed, self._unshared = self._unshared, set()
        try:
            # Only what is newer than Redis holds travels (the script decides races).
            stored_stamps = {
                _text(f): _text(v) for f, v in (await client.hgetall(self._stamps)).items()
            }
            held = [
                applied.feed
                for (operator_id, kind), applied in self.state.held().items()
                if (everything or (operator_id, kind) in missed)
                and applied.feed.stamp > stored_stamps.get(f"{operator_id}|{kind}", "")
            ]
            stored = [await self._send(client, feed) for feed in held]
        except BaseException:
            self._unshared |= missed
            raise
        if any(stored):
            log.info("republished realtime feeds to redis", extra={"count": sum(stored)})
        return sum(stored)

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
            # What arrived while Redis was away (or was lost by a restarted Redis) reached
            # nobody else: share everything held first, then take what the others shared.
            await self.republish(client, everything=True)
            self.connected = True
            await self.resync(client)
            next_resync = time.monotonic() + RESYNC_S
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                raise_if_cancelling()
                if message is not None and message["type"] == "message":
                    await self._received(message["data"])
                if self._unshared:
                    await self.republish(client)
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
