"""A process's realtime state over timetable swaps: the held bytes are applied to each snapshot."""

from __future__ import annotations

import dataclasses
import time

from gateway.realtime.state import FeedBytes, RealtimeState
from gateway.timetable import Timetable
from tests.gateway.realtime.support import (
    KL,
    TEATTERIKULMA,
    Client,
    cancel_feed,
    delay_feed,
    kuopio_timetable,
)


def _feed(data: bytes, stamp: str, kind: str = "trip-updates") -> FeedBytes:
    return FeedBytes(KL, kind, data, time.time(), stamp)  # type: ignore[arg-type]


def _some_trip(timetable: Timetable) -> str:
    return next(t for t in timetable.snapshot.trips.ids if t.startswith(f"{KL}:"))


async def test_a_timetable_swap_reapplies_the_held_feeds(kuopio_demo: str, client: Client) -> None:
    first = await kuopio_timetable(client)
    current = [first]
    state = RealtimeState(lambda: current[0])
    trip_id = _some_trip(first)
    applied = await state.apply(_feed(cancel_feed(trip_id), "0001"))
    assert applied.generation == first.generation
    overlay = state.overlay(first.generation)
    assert overlay is not None
    assert overlay[trip_id].cancelled
    assert state.overlay(first.generation) is overlay  # one object until something changes

    swapped = dataclasses.replace(first, generation=first.generation + 1)
    current[0] = swapped
    await state.reapply_all()
    held = state.find_feed(KL, "trip-updates")
    assert held is not None
    assert held.generation == swapped.generation
    again = state.overlay(swapped.generation)
    assert again is not None
    assert again[trip_id].cancelled


async def test_an_older_feed_never_replaces_a_newer_one(kuopio_demo: str, client: Client) -> None:
    timetable = await kuopio_timetable(client)
    state = RealtimeState(lambda: timetable)
    trip_id = _some_trip(timetable)
    await state.apply(_feed(cancel_feed(trip_id), "0002"))
    late = await state.apply(_feed(delay_feed(trip_id, TEATTERIKULMA, 60), "0001"))
    assert late.feed.stamp == "0001"
    held = state.find_feed(KL, "trip-updates")
    assert held is not None
    assert held.feed.stamp == "0002"
    overlay = state.overlay(timetable.generation)
    assert overlay is not None
    assert overlay[trip_id].cancelled
