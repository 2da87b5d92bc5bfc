"""Load and validate an operator's GTFS Fares v2 files into a `FareFeed`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gtfs.tables import GtfsTables, namespaced
from operators.fares.archive import open_zip_tables
from operators.fares.context import (
    TimetableContext,
    context_from_tables,
    context_from_timetable,
    merge_contexts,
)
from operators.fares.csvfiles import FARE_FILES, Issues, Table, parse_tables
from operators.fares.model import (
    FareFeed,
    FareLegJoinRule,
    FareLegRule,
    FareMedia,
    FareProduct,
    FareTransferRule,
    RiderCategory,
    Timeframe,
)
from operators.fares.records import (
    Namer,
    Parser,
    parse_join_rule,
    parse_leg_rule,
    parse_media,
    parse_product,
    parse_rider_category,
    parse_timeframe,
    parse_transfer_rule,
    usable_rows,
)
from operators.fares.references import (
    KnownIds,
    check_default_categories,
    check_references,
    check_timeframe_overlaps,
)

T = TypeVar("T")


def load_fares(
    source: bytes | Path,
    operator_id: str,
    *,
    timetable: GtfsTables | None = None,
    timezone: str | None = None,
    strict_timetable: bool = True,
) -> FareFeed:
    """Load the fares of a GTFS zip or a fares-only zip (raises `FaresValidationError`)."""
    issues = Issues(strict_timetable=strict_timetable)
    with open_zip_tables(source, issues) as tables:
        return _load_tables(tables, operator_id, issues, timetable, timezone)


def load_fares_files(
    files: Mapping[str, bytes],
    operator_id: str,
    *,
    timetable: GtfsTables | None = None,
    timezone: str | None = None,
    strict_timetable: bool = True,
) -> FareFeed:
    """Load fares from file contents by name (`fare_products.txt`...), validating everything."""
    issues = Issues(strict_timetable=strict_timetable)
    return _load_tables(parse_tables(files, issues), operator_id, issues, timetable, timezone)


def _load_tables(
    tables: Mapping[str, Table],
    operator_id: str,
    issues: Issues,
    timetable: GtfsTables | None,
    timezone: str | None,
) -> FareFeed:
    services = _timeframe_services(tables.get("timeframes.txt"), operator_id)
    given = None if timetable is None else context_from_timetable(timetable, services)
    context = merge_contexts(context_from_tables(tables, operator_id, services), given)
    feed = _build_feed(tables, context, Namer(operator_id), issues, timezone)
    issues.raise_if_any()
    return feed


def _timeframe_services(table: Table | None, operator_id: str) -> frozenset[str]:
    rows = () if table is None else table.iter_rows()
    return frozenset(
        namespaced(operator_id, service) for row in rows if (service := row.get("service_id"))
    )


def _records(
    tables: Mapping[str, Table], name: str, parser: Parser, issues: Issues, ns: Namer, kind: type[T]
) -> list[tuple[int, T]]:
    table = tables.get(name)
    if table is None:
        return []
    parsed = [(row.line, parser(table, row, issues, ns)) for row in usable_rows(table, issues)]
    return [(line, record) for line, record in parsed if isinstance(record, kind)]


def _id_map(
    tables: Mapping[str, Table], name: str, issues: Issues, ns: Namer
) -> dict[str, str | None]:
    table = tables.get(name)
    if table is None:
        return {}
    column = name.removesuffix("s.txt") + "_id"
    out: dict[str, str | None] = {}
    for row in usable_rows(table, issues):
        value = row.get(column)
        if value is None:
            issues.error(name, row.line, column, "required value is empty")
        else:
            out[ns.required(value)] = row.get(name.removesuffix("s.txt") + "_name")
    return out


def _pairs(
    tables: Mapping[str, Table], name: str, key: str, value: str, issues: Issues, ns: Namer
) -> Iterator[tuple[str, str]]:
    table = tables.get(name)
    if table is None:
        return
    for row in usable_rows(table, issues):
        k, v = row.get(key), row.get(value)
        for column, present in ((key, k), (value, v)):
            if present is None:
                issues.error(name, row.line, column, "required value is empty")
        if k is not None and v is not None:
            yield ns.required(k), ns.required(v)


def _grouped(pairs: Iterator[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Group (stop, area) pairs by stop as they stream; stops in the same areas share one set."""
    groups: dict[str, frozenset[str]] = {}
    shared: dict[frozenset[str], frozenset[str]] = {}
    for key, value in pairs:
        areas = groups.get(key, frozenset()) | {value}
        groups[key] = shared.setdefault(areas, areas)
    return groups


@dataclass(frozen=True, slots=True)
class _Parsed:
    """Every file's records (Fares v2 files, keyed ids, and (stop, area) and (route, network))."""

    products: list[FareProduct]
    media: dict[str, FareMedia]
    categories: dict[str, RiderCategory]
    leg_rules: list[FareLegRule]
    joins: list[FareLegJoinRule]
    transfers: list[FareTransferRule]
    timeframes: list[Timeframe]
    areas: dict[str, str | None]
    networks: dict[str, str | None]
    stop_areas: dict[str, frozenset[str]]
    route_networks: dict[str, str]


def _parse(tables: Mapping[str, Table], ns: Namer, issues: Issues) -> _Parsed:
    def records(name: str, parser: Parser, kind: type[T]) -> list[T]:
        return [record for _, record in _records(tables, name, parser, issues, ns, kind)]

    timeframes = _records(tables, "timeframes.txt", parse_timeframe, issues, ns, Timeframe)
    check_timeframe_overlaps(timeframes, "timeframes.txt", issues)
    media = records("fare_media.txt", parse_media, FareMedia)
    categories = records("rider_categories.txt", parse_rider_category, RiderCategory)
    return _Parsed(
        products=records("fare_products.txt", parse_product, FareProduct),
        media={m.fare_media_id: m for m in media},
        categories={c.rider_category_id: c for c in categories},
        leg_rules=records("fare_leg_rules.txt", parse_leg_rule, FareLegRule),
        joins=records("fare_leg_join_rules.txt", parse_join_rule, FareLegJoinRule),
        transfers=records("fare_transfer_rules.txt", parse_transfer_rule, FareTransferRule),
        timeframes=[t for _, t in timeframes],
        areas=_id_map(tables, "areas.txt", issues, ns),
        networks=_id_map(tables, "networks.txt", issues, ns),
        stop_areas=_grouped(_pairs(tables, "stop_areas.txt", "stop_id", "area_id", issues, ns)),
        route_networks=dict(
            _pairs(tables, "route_networks.txt", "route_id", "network_id", issues, ns)
        ),
    )


def _check(
    tables: Mapping[str, Table],
    parsed: _Parsed,
    context: TimetableContext,
    ns: Namer,
    issues: Issues,
) -> None:
    _check_network_sources(tables, context, issues)
    known = KnownIds(
        rider_categories=parsed.categories.keys(),
        fare_media=parsed.media.keys(),
        fare_products={p.fare_product_id for p in parsed.products},
        areas=parsed.areas.keys(),
        networks=set(parsed.networks) | set(context.route_network_ids.values()),
        timeframe_groups={t.timeframe_group_id for t in parsed.timeframes},
        leg_groups={r.leg_group_id for r in parsed.leg_rules if r.leg_group_id},
        stops=context.stop_ids,
        routes=context.route_ids,
        services=context.service_ids,
    )
    check_references(tables, known, ns, issues)
    check_default_categories(tables.get("fare_products.txt"), parsed.categories, ns, issues)


def _build_feed(
    tables: Mapping[str, Table],
    context: TimetableContext,
    ns: Namer,
    issues: Issues,
    timezone: str | None,
) -> FareFeed:
    if not any(name in tables for name in FARE_FILES):
        issues.warn("", 0, "", "no GTFS Fares v2 files found")
    parsed = _parse(tables, ns, issues)
    _check(tables, parsed, context, ns, issues)
    zone = _time_zone(context.timezone, timezone, bool(parsed.timeframes), issues)
    return FareFeed(
        operator_id=ns.operator_id,
        timezone=zone,
        products=tuple(parsed.products),
        rider_categories=parsed.categories,
        fare_media=parsed.media,
        leg_rules=tuple(parsed.leg_rules),
        has_rule_priority="rule_priority" in _columns(tables, "fare_leg_rules.txt"),
        leg_join_rules=tuple(parsed.joins),
        transfer_rules=tuple(parsed.transfers),
        areas=parsed.areas,
        stop_areas=parsed.stop_areas,
        parent_stations=context.parent_stations,
        stop_timezones=_valid_stop_zones(context.stop_timezones, issues),
        networks={**dict.fromkeys(context.route_network_ids.values()), **parsed.networks},
        route_networks={**context.route_network_ids, **parsed.route_networks},
        timeframes=tuple(parsed.timeframes),
        service_dates=context.service_dates,
        warnings=tuple(issues.warnings),
        timetable_warnings=tuple(issues.timetable_warnings),
        warning_total=issues.warning_total,
        timetable_warning_total=issues.timetable_warning_total,
    )


def _valid_stop_zones(zones: Mapping[str, str], issues: Issues) -> dict[str, str]:
    valid: dict[str, str] = {}
    for stop_id, zone in zones.items():
        if zone in valid.values() or _is_zone(zone):
            valid[stop_id] = zone
        else:
            message = f"{zone!r} is not a time zone: the agency's is used for {stop_id!r}"
            issues.warn("stops.txt", 0, "stop_timezone", message)
    return valid


def _is_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _columns(tables: Mapping[str, Table], name: str) -> tuple[str, ...]:
    table = tables.get(name)
    return () if table is None else table.columns


def _check_network_sources(
    tables: Mapping[str, Table], context: TimetableContext, issues: Issues
) -> None:
    if not context.route_network_ids:
        return
    for name in ("networks.txt", "route_networks.txt"):
        if name in tables:
            message = "forbidden when routes.txt has network_id"
            issues.timetable_mismatch(name, 0, "", message)


def _time_zone(
    feed: str | None, configured: str | None, needed: bool, issues: Issues
) -> str | None:
    """Return the feed's agency time zone; the configured one only when the feed has none.

    The reference evaluates timeframes in the agency's time zone: an operator configured
    for another zone must not move its fare windows (a warning says so).
    """
    if feed is not None and configured is not None and feed != configured:
        message = (
            f"the feed's time zone {feed!r} differs from the operator's configured "
            f"{configured!r}: fares use the feed's, as timeframes are in the agency's time zone"
        )
        issues.warn_timetable("agency.txt", 0, "agency_timezone", message)
    zone = feed or configured
    if zone is None:
        if needed:
            message = "time zone unknown: give agency.txt or the timezone to match timeframes"
            issues.error("timeframes.txt", 0, "", message)
        return None
    if not _is_zone(zone):
        issues.error("agency.txt", 0, "agency_timezone", f"{zone!r} is not a time zone")
        return None
    return zone
