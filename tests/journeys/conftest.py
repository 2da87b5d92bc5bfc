"""Snapshots of the real feeds, built once per test session."""

from __future__ import annotations

import datetime as dt

import pytest

from gtfs.snapshot.build import Snapshot
from gtfs.tables import GtfsTables
from journeys.planner import Planner
from tests.journeys import feeds

#: A Tuesday inside each feed's service period.
KUOPIO_DAY = dt.date(2017, 3, 14)
VILNIUS_DAY = dt.date(2015, 9, 15)


@pytest.fixture(scope="session")
def kuopio_tables() -> GtfsTables:
    """Return Kuopio as its five operators, merged."""
    return feeds.kuopio_five_operators()


@pytest.fixture(scope="session")
def kuopio_snapshot() -> Snapshot:
    """Return the compiled snapshot of the five Kuopio operators."""
    return feeds.kuopio_snapshot()


@pytest.fixture(scope="session")
def kuopio_planner(kuopio_snapshot: Snapshot) -> Planner:
    """Return a planner over the Kuopio snapshot."""
    return Planner(kuopio_snapshot)


@pytest.fixture(scope="session")
def vilnius_tables() -> GtfsTables:
    """Return the Vilnius feed (445k stop_times)."""
    return feeds.vilnius()


@pytest.fixture(scope="session")
def vilnius_snapshot() -> Snapshot:
    """Return the compiled Vilnius snapshot."""
    return feeds.vilnius_snapshot()


@pytest.fixture(scope="session")
def vilnius_planner(vilnius_snapshot: Snapshot) -> Planner:
    """Return a planner over the Vilnius snapshot."""
    return Planner(vilnius_snapshot)
