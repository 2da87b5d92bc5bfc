"""Parse each Fares v2 file into records: required columns and values, syntax, enums, keys."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

from gtfs.tables import namespaced
from operators.fares.csvfiles import (
    Issues,
    Row,
    Table,
    check_columns,
    parse_int,
    parse_local_time_s,
    require,
)
from operators.fares.model import (
    FareLegJoinRule,
    FareLegRule,
    FareMedia,
    FareProduct,
    FareTransferRule,
    RiderCategory,
    Timeframe,
)
from operators.fares.money import (
    CURRENCY_EXPONENTS,
    AmountError,
    amount_decimal_places,
    parse_amount_minor,
)

#: Required columns of each file.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "fare_products.txt": ("fare_product_id", "amount", "currency"),
    "fare_media.txt": ("fare_media_id", "fare_media_type"),
    "rider_categories.txt": (
        "rider_category_id",
        "rider_category_name",
        "is_default_fare_category",
    ),
    "fare_leg_rules.txt": ("fare_product_id",),
    "fare_leg_join_rules.txt": ("from_network_id", "to_network_id"),
    "fare_transfer_rules.txt": ("fare_transfer_type",),
    "areas.txt": ("area_id",),
    "stop_areas.txt": ("area_id", "stop_id"),
    "networks.txt": ("network_id",),
    "route_networks.txt": ("network_id", "route_id"),
    "timeframes.txt": ("timeframe_group_id", "service_id"),
}

#: Primary key of each file; `None` means every column (`Primary key (*)`).
PRIMARY_KEYS: dict[str, tuple[str, ...] | None] = {
    "fare_products.txt": ("fare_product_id", "rider_category_id", "fare_media_id"),
    "fare_media.txt": ("fare_media_id",),
    "rider_categories.txt": ("rider_category_id",),
    "fare_leg_rules.txt": (
        "network_id",
        "from_area_id",
        "to_area_id",
        "from_timeframe_group_id",
        "to_timeframe_group_id",
        "fare_product_id",
    ),
    "fare_leg_join_rules.txt": ("from_network_id", "to_network_id", "from_stop_id", "to_stop_id"),
    "fare_transfer_rules.txt": (
        "from_leg_group_id",
        "to_leg_group_id",
        "fare_product_id",
        "transfer_count",
        "duration_limit",
    ),
    "areas.txt": ("area_id",),
    "stop_areas.txt": None,
    "networks.txt": ("network_id",),
    "route_networks.txt": ("route_id",),
    "timeframes.txt": None,
}


#: Optional columns of each file (with the required ones, every column the reference defines).
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "fare_products.txt": ("fare_product_name", "rider_category_id", "fare_media_id"),
    "fare_media.txt": ("fare_media_name",),
    "rider_categories.txt": ("eligibility_url",),
    "fare_leg_rules.txt": (
        "leg_group_id",
        "network_id",
        "from_area_id",
        "to_area_id",
        "from_timeframe_group_id",
        "to_timeframe_group_id",
        "rule_priority",
    ),
    "fare_leg_join_rules.txt": ("from_stop_id", "to_stop_id"),
    "fare_transfer_rules.txt": (
        "from_leg_group_id",
        "to_leg_group_id",
        "transfer_count",
        "duration_limit",
        "duration_limit_type",
        "fare_product_id",
    ),
    "areas.txt": ("area_name",),
    "stop_areas.txt": (),
    "networks.txt": ("network_name",),
    "route_networks.txt": (),
    "timeframes.txt": ("start_time", "end_time"),
}


def usable_rows(table: Table, issues: Issues) -> Iterator[Row]:
    """Check columns; stream the rows, reporting duplicate keys as they come.

    No rows when a required column is missing. The keys seen are kept during the pass only.
    """
    if not table.readable:
        return iter(())
    known = REQUIRED_COLUMNS[table.name] + OPTIONAL_COLUMNS[table.name]
    for column in table.columns:
        if column not in known:
            issues.warn(table.name, 1, column, "unknown column, ignored")
    if not check_columns(table, REQUIRED_COLUMNS[table.name], issues):
        return iter(())
    return _unique_rows(table, PRIMARY_KEYS[table.name] or table.columns, issues)


def _unique_rows(table: Table, key: tuple[str, ...], issues: Issues) -> Iterator[Row]:
    seen: dict[str, int] = {}
    for row in table.iter_rows():
        values = _key_text(row.get(c) for c in key)
        if values in seen:
            label = "id" if len(key) == 1 else "key (" + ", ".join(key) + ")"
            message = f"duplicate {label}, first on line {seen[values]}"
            issues.error(table.name, row.line, key[0] if len(key) == 1 else "", message)
        else:
            seen[values] = row.line
        yield row


def _key_text(values: Iterable[str | None]) -> str:
    """One string per key, length-prefixed so that two keys never give the same text.

    A string, not a tuple of the row's strings: it is what a pass over 100,000 rows keeps.
    """
    return "".join("-" if v is None else f"{len(v)}:{v}" for v in values)


class Namer:
    """Namespaces an operator's ids (`operator:original_id`); empty stays None.

    Ids are interned: an area named on 100,000 stop_areas rows is one string in memory.
    """

    def __init__(self, operator_id: str) -> None:
        self.operator_id = operator_id

    def __call__(self, value: str | None) -> str | None:
        """Return the namespaced id, or None for an empty value."""
        return None if value is None else sys.intern(namespaced(self.operator_id, value))

    def required(self, value: str) -> str:
        """Return the namespaced id of a value known to be present."""
        return sys.intern(namespaced(self.operator_id, value))


Parser = Callable[[Table, Row, Issues, Namer], object]


def parse_product(table: Table, row: Row, issues: Issues, ns: Namer) -> FareProduct | None:
    """Parse a fare_products.txt row; the amount becomes exact minor units."""
    product_id = require(table, row, "fare_product_id", issues)
    amount = require(table, row, "amount", issues)
    currency = require(table, row, "currency", issues)
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        issues.error(table.name, row.line, "currency", f"{currency!r} is not an ISO 4217 code")
        return None
    if product_id is None or amount is None or currency is None:
        return None
    try:
        amount_minor = parse_amount_minor(amount, currency)
    except AmountError as exc:
        issues.error(table.name, row.line, "amount", str(exc))
        return None
    if amount_decimal_places(amount) != CURRENCY_EXPONENTS[currency]:
        places = CURRENCY_EXPONENTS[currency]
        message = f"{amount!r} should have {places} decimal places for {currency}"
        issues.warn(table.name, row.line, "amount", message)
    return FareProduct(
        ns.required(product_id),
        row.get("fare_product_name"),
        ns(row.get("rider_category_id")),
        ns(row.get("fare_media_id")),
        amount_minor,
        currency,
    )


def parse_media(table: Table, row: Row, issues: Issues, ns: Namer) -> FareMedia | None:
    """Parse a fare_media.txt row."""
    media_id = require(table, row, "fare_media_id", issues)
    require(table, row, "fare_media_type", issues)
    media_type = parse_int(table, row, "fare_media_type", issues, range(5))
    if media_id is None or media_type is None:
        return None
    return FareMedia(ns.required(media_id), row.get("fare_media_name"), media_type)


def parse_rider_category(table: Table, row: Row, issues: Issues, ns: Namer) -> RiderCategory | None:
    """Parse a rider_categories.txt row (an empty default flag means 0)."""
    category_id = require(table, row, "rider_category_id", issues)
    name = require(table, row, "rider_category_name", issues)
    default = parse_int(table, row, "is_default_fare_category", issues, range(2))
    if category_id is None or name is None:
        return None
    return RiderCategory(ns.required(category_id), name, default == 1, row.get("eligibility_url"))


def parse_leg_rule(table: Table, row: Row, issues: Issues, ns: Namer) -> FareLegRule | None:
    """Parse a fare_leg_rules.txt row (an empty rule_priority means 0)."""
    product_id = require(table, row, "fare_product_id", issues)
    priority = parse_int(table, row, "rule_priority", issues, range(2**31))
    if product_id is None:
        return None
    return FareLegRule(
        row=row.line,
        fare_product_id=ns.required(product_id),
        leg_group_id=ns(row.get("leg_group_id")),
        network_id=ns(row.get("network_id")),
        from_area_id=ns(row.get("from_area_id")),
        to_area_id=ns(row.get("to_area_id")),
        from_timeframe_group_id=ns(row.get("from_timeframe_group_id")),
        to_timeframe_group_id=ns(row.get("to_timeframe_group_id")),
        rule_priority=priority or 0,
    )


def parse_join_rule(table: Table, row: Row, issues: Issues, ns: Namer) -> FareLegJoinRule | None:
    """Parse a fare_leg_join_rules.txt row: from/to stops come both or neither."""
    from_network = require(table, row, "from_network_id", issues)
    to_network = require(table, row, "to_network_id", issues)
    from_stop, to_stop = row.get("from_stop_id"), row.get("to_stop_id")
    if (from_stop is None) != (to_stop is None):
        missing = "from_stop_id" if from_stop is None else "to_stop_id"
        issues.error(table.name, row.line, missing, "from_stop_id and to_stop_id go together")
        return None
    if from_network is None or to_network is None:
        return None
    return FareLegJoinRule(
        ns.required(from_network), ns.required(to_network), ns(from_stop), ns(to_stop)
    )


def parse_transfer_rule(
    table: Table, row: Row, issues: Issues, ns: Namer
) -> FareTransferRule | None:
    """Parse a fare_transfer_rules.txt row with its conditional fields."""
    require(table, row, "fare_transfer_type", issues)
    transfer_type = parse_int(table, row, "fare_transfer_type", issues, range(3))
    count = parse_int(table, row, "transfer_count", issues, range(-1, 2**31))
    limit = parse_int(table, row, "duration_limit", issues, range(1, 2**31))
    limit_type = parse_int(table, row, "duration_limit_type", issues, range(4))
    from_group, to_group = row.get("from_leg_group_id"), row.get("to_leg_group_id")
    ok = _check_transfer_conditions(table, row, issues, from_group == to_group)
    if transfer_type is None or not ok or count == 0:
        if count == 0:
            issues.error(table.name, row.line, "transfer_count", "0 is not a valid value")
        return None
    return FareTransferRule(
        row=row.line,
        fare_transfer_type=transfer_type,
        from_leg_group_id=ns(from_group),
        to_leg_group_id=ns(to_group),
        transfer_count=count,
        duration_limit_s=limit,
        duration_limit_type=limit_type,
        fare_product_id=ns(row.get("fare_product_id")),
    )


def _check_transfer_conditions(table: Table, row: Row, issues: Issues, same_group: bool) -> bool:
    problems: list[tuple[str, str]] = []
    has_count = row.get("transfer_count") is not None
    if same_group and not has_count:
        problems.append(
            ("transfer_count", "required when from_leg_group_id equals to_leg_group_id")
        )
    if not same_group and has_count:
        problems.append(("transfer_count", "forbidden when the leg groups differ"))
    has_limit, has_type = row.get("duration_limit") is not None, row.get("duration_limit_type")
    if has_limit and has_type is None:
        problems.append(("duration_limit_type", "required when duration_limit is set"))
    if not has_limit and has_type is not None:
        problems.append(("duration_limit_type", "forbidden when duration_limit is empty"))
    for column, message in problems:
        issues.error(table.name, row.line, column, message)
    return not problems


def parse_timeframe(table: Table, row: Row, issues: Issues, ns: Namer) -> Timeframe | None:
    """Parse a timeframes.txt row: empty start is 00:00:00, empty end is 24:00:00."""
    group = require(table, row, "timeframe_group_id", issues)
    service = require(table, row, "service_id", issues)
    start_s = parse_local_time_s(table, row, "start_time", issues)
    end_s = parse_local_time_s(table, row, "end_time", issues)
    has_start, has_end = row.get("start_time") is not None, row.get("end_time") is not None
    if has_start != has_end:
        column = "end_time" if has_start else "start_time"
        issues.error(table.name, row.line, column, "start_time and end_time go together")
        return None
    if (has_start and start_s is None) or (has_end and end_s is None):
        return None
    start_s = 0 if start_s is None else start_s
    end_s = 24 * 3600 if end_s is None else end_s
    if start_s >= end_s:
        issues.error(table.name, row.line, "end_time", "end_time must be after start_time")
        return None
    if group is None or service is None:
        return None
    return Timeframe(ns.required(group), start_s, end_s, ns.required(service))
