"""The merged GTFS-Realtime feeds served to everyone: built off the event loop, cached briefly."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from google.transit import gtfs_realtime_pb2

from gateway.realtime.sources import FeedKind
from gateway.realtime.state import RealtimeState
from gtfs.realtime.read import Alert, VehiclePosition, merged_feed_message

#: A merged feed is rebuilt when the state changed, or after this long (positions expire).
MAX_AGE_S = 5.0


@dataclass(frozen=True, slots=True)
class MergedFeed:
    """One built FeedMessage, its bytes and the tag a client can send back."""

    message: gtfs_realtime_pb2.FeedMessage
    data: bytes
    etag: str
    version: int
    built_s: float


def _build(
    kind: FeedKind,
    version: int,
    now_s: float,
    positions: list[VehiclePosition],
    entities: list[bytes],
    alerts: list[Alert],
) -> MergedFeed:
    message = merged_feed_message(
        timestamp_s=int(now_s),
        vehicle_positions=positions,
        trip_update_entities=entities,
        alerts=alerts,
    )
    # Stable while the content is: the same version of this kind and nothing expired since.
    etag = f'"{kind}-{version}-{len(message.entity)}"'
    return MergedFeed(message, message.SerializeToString(), etag, version, now_s)


async def build_merged(state: RealtimeState, kind: FeedKind, now_s: float) -> MergedFeed:
    """Build one kind's merged FeedMessage; the state is read here, the encoding in a thread."""
    # Taken on the event loop: the state's dicts change only there.
    positions = state.positions() if kind == "vehicle-positions" else []
    entities = state.trip_update_entities() if kind == "trip-updates" else []
    alerts = state.alerts() if kind == "alerts" else []
    version = state.version(kind)
    return await asyncio.to_thread(_build, kind, version, now_s, positions, entities, alerts)


class MergedFeeds:
    """The latest merged feed of each kind, rebuilt once per change (or MAX_AGE_S)."""

    def __init__(self, state: RealtimeState) -> None:
        self._state = state
        self._built: dict[FeedKind, MergedFeed] = {}
        self._locks: dict[FeedKind, asyncio.Lock] = {}

    async def get(self, kind: FeedKind) -> MergedFeed:
        """Return the current merged feed of a kind, building it when it is out of date."""
        async with self._locks.setdefault(kind, asyncio.Lock()):
            found = self._built.get(kind)
            now_s = time.time()
            if (
                found is None
                or found.version != self._state.version(kind)
                or (now_s - found.built_s > MAX_AGE_S)
            ):
                found = await build_merged(self._state, kind, now_s)
                self._built[kind] = found
            return found
