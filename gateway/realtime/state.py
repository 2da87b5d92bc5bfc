"""One process's realtime state: every operator's latest feeds, applied to the current timetable.

What a process holds is derived: the latest raw bytes of each (operator, feed
kind), decoded against this process's own snapshot. Pushes, polls and the bus
all end in `RealtimeState.apply`; a timetable swap re-applies the same bytes to
the new snapshot, so every process that holds the same bytes serves the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from gateway.realtime.sources import FeedKind
from gateway.timetable import Timetable
from gtfs.realtime.overlay import RealtimeOverlay, TripRealtime
from gtfs.realtime.read import (
    Alert,
    AlertsFeed,
    FeedReport,
    TripSchedules,
    TripUpdatesFeed,
    VehiclePosition,
    VehiclePositionsFeed,
    merged_overlay,
    read_alerts,
    read_trip_updates,
    read_vehicle_positions,
)

log = logging.getLogger(__name__)

#: A vehicle position not refreshed for this long is gone (in Redis and in every process).
POSITIONS_TTL_S = 300
#: Trip updates and alerts are kept (and re-applied) for this long after they arrived.
FEED_TTL_S = 3600
#: Position batches a slow stream client may fall behind by before older ones are dropped.
LISTENER_QUEUE = 64

Decoded = VehiclePositionsFeed | TripUpdatesFeed | AlertsFeed


@dataclass(frozen=True, slots=True)
class FeedBytes:
    """The latest raw bytes of one operator's feed; `stamp` orders them across processes."""

    operator_id: str
    kind: FeedKind
    data: bytes
    received_s: float
    stamp: str


@dataclass(frozen=True, slots=True)
class AppliedFeed:
    """A feed decoded against one timetable generation."""

    feed: FeedBytes
    generation: int
    decoded: Decoded
    applied_s: float


@dataclass(slots=True)
class _Merged:
    generation: int = -1
    overlay: dict[str, TripRealtime] = field(default_factory=dict)
    valid_until_s: float = 0.0


def decode(feed: FeedBytes, schedules: TripSchedules, now_s: int) -> Decoded:
    """Decode one feed against a snapshot's schedules (blocking; raises `RealtimeFeedError`)."""
    if feed.kind == "trip-updates":
        return read_trip_updates(feed.data, feed.operator_id, schedules, now_s=now_s)
    known = {
        "known_trip_ids": schedules.known_trip_ids(),
        "known_stop_ids": schedules.known_stop_ids(),
        "now_s": now_s,
    }
    if feed.kind == "vehicle-positions":
        return read_vehicle_positions(feed.data, feed.operator_id, **known)  # type: ignore[arg-type]
    return read_alerts(feed.data, feed.operator_id, **known)  # type: ignore[arg-type]


class RealtimeState:
    """The latest feed of every (operator, kind), decoded against the current timetable."""

    def __init__(self, current_timetable: Callable[[], Timetable]) -> None:
        self._current_timetable = current_timetable
        self._applied: dict[tuple[str, FeedKind], AppliedFeed] = {}
        self._apply_lock = asyncio.Lock()
        self._merged = _Merged()
        self._listeners: set[asyncio.Queue[tuple[VehiclePosition, ...]]] = set()
        self._versions: dict[FeedKind, int] = {}

    def version(self, kind: FeedKind) -> int:
        """Return how many feeds of a kind have been made current (the merged feed's version)."""
        return self._versions.get(kind, 0)

    async def decode(self, feed: FeedBytes, timetable: Timetable) -> AppliedFeed:
        """Decode a feed against a timetable, off the event loop (raises `RealtimeFeedError`)."""
        now_s = int(time.time())
        decoded = await asyncio.to_thread(decode, feed, timetable.schedules, now_s)
        return AppliedFeed(feed, timetable.generation, decoded, time.time())

    async def apply(self, feed: FeedBytes) -> AppliedFeed:
        """Decode a feed against the current timetable and make it current unless outdated.

        Raises `RealtimeFeedError` (nothing changes) or a 503 problem before the first timetable.
        """
        async with self._apply_lock:
            # Taken under the lock: a swap during the decode is followed by `reapply_all`.
            applied = await self.decode(feed, self._current_timetable())
            self.install(applied)
            return applied

    def install(self, applied: AppliedFeed) -> bool:
        """Make a decoded feed current; False when it is older than the one in force."""
        key = (applied.feed.operator_id, applied.feed.kind)
        current = self._applied.get(key)
        if current is not None and (
            current.feed.stamp > applied.feed.stamp
            or (
                current.feed.stamp == applied.feed.stamp
                and current.generation >= applied.generation
            )
        ):
            return False
        self._applied[key] = applied
        self._versions[applied.feed.kind] = self.version(applied.feed.kind) + 1
        if applied.feed.kind == "trip-updates":
            self._merged = _Merged()
        elif isinstance(applied.decoded, VehiclePositionsFeed):
            self._notify(applied.decoded.positions)
        return True

    async def reapply_all(self) -> None:
        """Decode every held feed again against the current timetable (after a swap)."""
        async with self._apply_lock:
            timetable = self._current_timetable()
            for applied in list(self._applied.values()):
                if applied.generation == timetable.generation:
                    continue
                try:
                    self.install(await self.decode(applied.feed, timetable))
                except Exception:  # one operator's feed must not block the others
                    log.exception("re-applying a realtime feed failed")

    def held(self) -> dict[tuple[str, FeedKind], AppliedFeed]:
        """Return every feed held, by (operator, kind): a copy, safe to iterate across awaits."""
        return dict(self._applied)

    def feeds(self) -> list[FeedBytes]:
        """Return the raw bytes of every feed held."""
        return [a.feed for a in self._applied.values()]

    def find_feed(self, operator_id: str, kind: FeedKind) -> AppliedFeed | None:
        """Return the current feed of one operator and kind, or None."""
        return self._applied.get((operator_id, kind))

    def reports(self, operator_id: str) -> dict[FeedKind, FeedReport]:
        """Return the report of each feed kind an operator has sent."""
        return {
            kind: a.decoded.report for (op, kind), a in self._applied.items() if op == operator_id
        }

    def overlay(self, generation: int) -> RealtimeOverlay | None:
        """Return the merged overlay of a timetable generation (one object until it changes)."""
        merged = self._merged
        if merged.generation != generation or time.time() > merged.valid_until_s:
            held = [
                a
                for a in self._applied.values()
                if isinstance(a.decoded, TripUpdatesFeed)
                and a.generation == generation
                and not _expired(a.feed, FEED_TTL_S)
            ]
            merged = _Merged(
                generation,
                merged_overlay(a.decoded.overlay for a in held),  # type: ignore[union-attr]
                min((a.feed.received_s + FEED_TTL_S for a in held), default=float("inf")),
            )
            self._merged = merged
        return merged.overlay or None

    def positions(self) -> list[VehiclePosition]:
        """Return every live vehicle position (feeds older than the TTL are gone)."""
        return [
            position
            for a in self._applied.values()
            if isinstance(a.decoded, VehiclePositionsFeed) and not _expired(a.feed, POSITIONS_TTL_S)
            for position in a.decoded.positions
        ]

    def trip_update_entities(self) -> list[bytes]:
        """Return every operator's namespaced TripUpdate entities for the merged feed."""
        return [
            entity
            for a in self._applied.values()
            if isinstance(a.decoded, TripUpdatesFeed) and not _expired(a.feed, FEED_TTL_S)
            for entity in a.decoded.entities.values()
        ]

    def alerts(self) -> list[Alert]:
        """Return every operator's current service alerts."""
        return [
            alert
            for a in self._applied.values()
            if isinstance(a.decoded, AlertsFeed) and not _expired(a.feed, FEED_TTL_S)
            for alert in a.decoded.alerts
        ]

    @contextlib.contextmanager
    def listen(self) -> Iterator[asyncio.Queue[tuple[VehiclePosition, ...]]]:
        """Receive each newly applied batch of vehicle positions while inside the block."""
        queue: asyncio.Queue[tuple[VehiclePosition, ...]] = asyncio.Queue(LISTENER_QUEUE)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    @property
    def listener_count(self) -> int:
        """Return how many streams are listening."""
        return len(self._listeners)

    def _notify(self, positions: tuple[VehiclePosition, ...]) -> None:
        for queue in self._listeners:
            if queue.full():
                # A slow client loses the oldest batch, never the newest.
                queue.get_nowait()
            queue.put_nowait(positions)


def _expired(feed: FeedBytes, ttl_s: float) -> bool:
    return time.time() - feed.received_s > ttl_s
