"""Checks across files: foreign ids, the default rider category, timeframe overlaps."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from operators.fares.csvfiles import Issues, Table
from operators.fares.model import RiderCategory, Timeframe
from operators.fares.records import Namer


@dataclass(frozen=True, slots=True)
class KnownIds:
    """Namespaced ids each kind of reference may point at; None means "not given"."""

    rider_categories: Collection[str]
    fare_media: Collection[str]
    fare_products: Collection[str]
    areas: Collection[str]
    networks: Collection[str]
    timeframe_groups: Collection[str]
    leg_groups: Collection[str]
    stops: Collection[str] | None
    routes: Collection[str] | None
    services: Collection[str] | None


#: (file, column, kind of id it references); kinds are `KnownIds` field names.
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("fare_products.txt", "rider_category_id", "rider_categories"),
    ("fare_products.txt", "fare_media_id", "fare_media"),
    ("fare_leg_rules.txt", "network_id", "networks"),
    ("fare_leg_rules.txt", "from_area_id", "areas"),
    ("fare_leg_rules.txt", "to_area_id", "areas"),
    ("fare_leg_rules.txt", "from_timeframe_group_id", "timeframe_groups"),
    ("fare_leg_rules.txt", "to_timeframe_group_id", "timeframe_groups"),
    ("fare_leg_rules.txt", "fare_product_id", "fare_products"),
    ("fare_leg_join_rules.txt", "from_network_id", "networks"),
    ("fare_leg_join_rules.txt", "to_network_id", "networks"),
    ("fare_leg_join_rules.txt", "from_stop_id", "stops"),
    ("fare_leg_join_rules.txt", "to_stop_id", "stops"),
    ("fare_transfer_rules.txt", "from_leg_group_id", "leg_groups"),
    ("fare_transfer_rules.txt", "to_leg_group_id", "leg_groups"),
    ("fare_transfer_rules.txt", "fare_product_id", "fare_products"),
    ("stop_areas.txt", "area_id", "areas"),
    ("stop_areas.txt", "stop_id", "stops"),
    ("route_networks.txt", "network_id", "networks"),
    ("route_networks.txt", "route_id", "routes"),
    ("timeframes.txt", "service_id", "services"),
)

#: Kinds of ids the timetable defines (networks: routes.txt may).
TIMETABLE_KINDS = frozenset({"stops", "routes", "services", "networks"})

_SOURCE = {
    "rider_categories": "rider_categories.txt",
    "fare_media": "fare_media.txt",
    "fare_products": "fare_products.txt",
    "areas": "areas.txt",
    "networks": "networks.txt or routes.txt",
    "timeframe_groups": "timeframes.txt",
    "leg_groups": "fare_leg_rules.txt leg_group_id",
    "stops": "stops.txt",
    "routes": "routes.txt",
    "services": "calendar.txt or calendar_dates.txt",
}


def check_references(
    tables: Mapping[str, Table], known: KnownIds, ns: Namer, issues: Issues
) -> None:
    """Report every id that points at nothing; warn once per kind that could not be checked.

    One pass over each file checks all its referencing columns, row by row.
    """
    unchecked: set[tuple[str, str]] = set()
    by_file: dict[str, list[tuple[str, str, Collection[str]]]] = defaultdict(list)
    for file, column, kind in REFERENCES:
        table = tables.get(file)
        ids: Collection[str] | None = getattr(known, kind)
        if table is None or column not in table.columns:
            continue
        if ids is None:
            unchecked.add((file, kind))
        else:
            by_file[file].append((column, kind, ids))
    for file, checks in by_file.items():
        for row in tables[file].iter_rows():
            for column, kind, ids in checks:
                value = row.get(column)
                if value is not None and ns.required(value) not in ids:
                    message = f"{value!r} is not defined in {_SOURCE[kind]}"
                    record = issues.timetable_mismatch if kind in TIMETABLE_KINDS else issues.error
                    record(file, row.line, column, message)
    for file, kind in sorted(unchecked):
        issues.warn(file, 0, "", f"{_SOURCE[kind]} not given: references to it are not checked")


def check_default_categories(
    table: Table | None, categories: Mapping[str, RiderCategory], ns: Namer, issues: Issues
) -> None:
    """Report products open to several rider categories without exactly one default among them."""
    if table is None:
        return
    eligible: dict[str, set[str]] = defaultdict(set)
    first_line: dict[str, int] = {}
    for row in table.iter_rows():
        product, category = row.get("fare_product_id"), row.get("rider_category_id")
        if product is None or category is None or ns.required(category) not in categories:
            continue
        eligible[product].add(ns.required(category))
        first_line.setdefault(product, row.line)
    for product, ids in eligible.items():
        defaults = sum(categories[c].is_default for c in ids)
        if len(ids) > 1 and defaults != 1:
            message = f"product {product!r} has {len(ids)} rider categories and {defaults} defaults"
            issues.error(table.name, first_line[product], "rider_category_id", message)


def check_timeframe_overlaps(
    timeframes: list[tuple[int, Timeframe]], file: str, issues: Issues
) -> None:
    """Report timeframes of one group and service whose intervals overlap."""
    by_key: dict[tuple[str, str], list[tuple[int, Timeframe]]] = defaultdict(list)
    for line, frame in timeframes:
        by_key[(frame.timeframe_group_id, frame.service_id)].append((line, frame))
    for frames in by_key.values():
        frames.sort(key=lambda item: item[1].start_s)
        for (line_a, a), (line_b, b) in itertools.pairwise(frames):
            if b.start_s < a.end_s:
                message = f"overlaps the timeframe on line {line_a} (same group and service)"
                issues.error(file, line_b, "start_time", message)
