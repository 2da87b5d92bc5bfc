"""Lower bounds to the destination: never above the real journey, and pruning changes no answer."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from journeys import planner as planner_module
from journeys.bounds import UNREACHABLE_S, no_bounds, to_destination
from journeys.planner import JourneyQuery, Planner
from journeys.raptor import Targets
from tests.journeys.bounds_reference import reference_bounds
from tests.journeys.conftest import KUOPIO_DAY


def _random_queries(planner: Planner, n: int, seed: int) -> list[JourneyQuery]:
    """Return n stop-to-stop queries between served stops, leaving between 06:00 and 20:00."""
    snap = planner.snapshot
    served = sorted({snap.stops.ids[s] for s in snap.trips.stop.tolist()})
    rng = random.Random(seed)
    tz = ZoneInfo(snap.timezone)
    out = []
    for _ in range(n):
        a, b = rng.sample(served, 2)
        when = dt.datetime.combine(KUOPIO_DAY, dt.time(6), tz) + dt.timedelta(
            minutes=rng.randrange(14 * 60)
        )
        # Given end walks, not stretched: the bounds below are for these.
        query = JourneyQuery(a, b, depart_at=when, window_s=3600, limit=1000)
        out.append(replace(query, max_walk_start_s=900, max_walk_end_s=900))
    return out


def test_bound_from_the_origin_never_exceeds_a_found_journey(kuopio_planner: Planner) -> None:
    checked = 0
    for query in _random_queries(kuopio_planner, 60, seed=7):
        found = kuopio_planner.plan(replace(query, window_s=0))
        if not found or not found[0].transit_legs():
            continue
        view = kuopio_planner.day_view(KUOPIO_DAY)
        end, _ = kuopio_planner._reach(query.destination, 900, "destination")
        targets = Targets(end.stops, end.walk_s)
        foot = kuopio_planner.snapshot.footpaths
        bounds = to_destination(view, foot, targets, 12, query.max_walk_transfer_s)
        first = found[0].transit_legs()[0]
        origin = kuopio_planner.snapshot.stops.index[first.from_place.stop_id or ""]
        board_s = int(bounds.arrive_s[origin])
        assert board_s < UNREACHABLE_S
        assert board_s <= (found[0].arrival - first.departure).total_seconds()
        checked += 1
    assert checked > 20


def test_range_answers_are_the_same_without_bounds(
    kuopio_planner: Planner, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _random_queries(kuopio_planner, 40, seed=11)
    pruned = [kuopio_planner.plan(q) for q in queries]
    monkeypatch.setattr(planner_module, "to_destination", lambda view, *_: no_bounds(view))
    assert [kuopio_planner.plan(q) for q in queries] == pruned
    assert sum(len(found) for found in pruned) > 40


def test_compiled_bounds_equal_the_numpy_relaxations(kuopio_planner: Planner) -> None:
    snap = kuopio_planner.snapshot
    view = kuopio_planner.day_view(KUOPIO_DAY)
    rng = random.Random(3)
    served = sorted(set(snap.trips.stop.tolist()))
    for rides, max_walk_s in ((0, 600), (1, 600), (4, 300), (12, 600), (12, 1800)):
        stops = np.asarray(rng.sample(served, 3), dtype=np.int64)
        targets = Targets(stops, np.asarray([0, 60, 300], dtype=np.int64))
        made = to_destination(view, snap.footpaths, targets, rides, max_walk_s)
        expected = reference_bounds(view, snap.footpaths, targets, rides, max_walk_s)
        assert np.array_equal(made.arrive_s, expected.arrive_s)
        assert np.array_equal(made.board_s, expected.board_s)
        assert (made.arrive_s < UNREACHABLE_S).any()
