"""Real feeds as namespaced tables for the planner tests (read once per session by fixtures)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gateway.demo.kuopio import KUOPIO_OPERATORS
from gtfs.feed.read import read_gtfs_kit_feed, read_tables, tables_from_feed
from gtfs.feed.split import split_by_agency
from gtfs.snapshot.build import Snapshot, build_snapshot
from gtfs.tables import GtfsTables, concat

GTFS = Path(__file__).resolve().parents[3] / "shared" / "data" / "gtfs"


@cache
def kuopio_five_operators() -> GtfsTables:
    """Return kuopio.zip split by agency into five operators, merged (stops repeat per operator)."""
    feed = read_gtfs_kit_feed(GTFS / "kuopio.zip")
    parts = split_by_agency(feed, KUOPIO_OPERATORS)
    return concat([tables_from_feed(part, operator) for operator, part in parts.items()])


@cache
def vilnius() -> GtfsTables:
    """Return vilnius.zip as one operator."""
    return read_tables(GTFS / "vilnius.zip", "vilnius")


def trensurb() -> GtfsTables:
    """Return the Porto Alegre metro (Trensurb) feed, whose times are all filled."""
    return read_tables(GTFS / "porto-alegre-trensurb.zip", "trensurb")


@cache
def kuopio_snapshot() -> Snapshot:
    """Return the snapshot of the five Kuopio operators (built once per process)."""
    return build_snapshot(kuopio_five_operators())


@cache
def vilnius_snapshot() -> Snapshot:
    """Return the Vilnius snapshot (built once per process)."""
    return build_snapshot(vilnius())
