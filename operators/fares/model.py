"""One operator's GTFS Fares v2 data, validated and with ids namespaced (`operator:original_id`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class FareIssue:
    """A validation error or warning: `row` is the line in the file (header = 1, 0 = whole file)."""

    file: str
    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, str | int]:
        """Return the `{file, row, field, message}` shape the API reports."""
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}


class FaresValidationError(ValueError):
    """Unusable fares: the first 100 errors, the total count of errors, and the warnings."""

    def __init__(
        self, errors: list[FareIssue], total: int, warnings: tuple[FareIssue, ...] = ()
    ) -> None:
        where = ""
        if errors:
            first = errors[0]
            where = f" (first: {first.file} row {first.row} {first.field}: {first.message})"
        super().__init__(f"{total} fares validation error(s){where}")
        self.errors = errors
        self.total = total
        self.warnings = warnings

    def __reduce__(
        self,
    ) -> tuple[type[FaresValidationError], tuple[list[FareIssue], int, tuple[FareIssue, ...]]]:
        """Pickle with the issues (fares are validated in a child process)."""
        return type(self), (self.errors, self.total, self.warnings)


@dataclass(frozen=True, slots=True)
class RiderCategory:
    """A rider category (adult, child...); `is_default` marks the one shown by default."""

    rider_category_id: str
    rider_category_name: str
    is_default: bool
    eligibility_url: str | None = None


@dataclass(frozen=True, slots=True)
class FareMedia:
    """A fare media (0 none, 1 paper, 2 card, 3 cEMV, 4 mobile app)."""

    fare_media_id: str
    fare_media_name: str | None
    fare_media_type: int


@dataclass(frozen=True, slots=True)
class FareProduct:
    """One priced row of fare_products.txt: a product for a rider category and a fare media."""

    fare_product_id: str
    fare_product_name: str | None
    rider_category_id: str | None
    fare_media_id: str | None
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class FareLegRule:
    """A row of fare_leg_rules.txt (empty fields are None)."""

    row: int
    fare_product_id: str
    leg_group_id: str | None = None
    network_id: str | None = None
    from_area_id: str | None = None
    to_area_id: str | None = None
    from_timeframe_group_id: str | None = None
    to_timeframe_group_id: str | None = None
    rule_priority: int = 0


@dataclass(frozen=True, slots=True)
class FareLegJoinRule:
    """A row of fare_leg_join_rules.txt: two consecutive legs that price as one."""

    from_network_id: str
    to_network_id: str
    from_stop_id: str | None = None
    to_stop_id: str | None = None


@dataclass(frozen=True, slots=True)
class FareTransferRule:
    """A row of fare_transfer_rules.txt (empty fields are None; no fare_product_id costs 0)."""

    row: int
    fare_transfer_type: int
    from_leg_group_id: str | None = None
    to_leg_group_id: str | None = None
    transfer_count: int | None = None
    duration_limit_s: int | None = None
    duration_limit_type: int | None = None
    fare_product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A row of timeframes.txt: local times as seconds since midnight, end exclusive."""

    timeframe_group_id: str
    start_s: int
    end_s: int
    service_id: str


@dataclass(frozen=True, slots=True)
class FareFeed:
    """An operator's fares: every Fares v2 file, plus what matching needs from its timetable.

    `service_dates` (dates of the services timeframes use) is None when no calendar was
    given: timeframes then apply every day. `stop_areas` is as in the file: a platform
    without areas of its own takes its station's when matching. Timeframes are evaluated in
    `stop_timezones` of the stop (or its station), else in `timezone` (the agency's).
    `timetable_warnings` are the warnings about the timetable the fares were matched against
    (among `warnings`): what it no longer defines, a configured time zone not the feed's.
    Each list holds the first `MAX_REPORTED_WARNINGS`; the totals count them all.
    """

    operator_id: str
    timezone: str | None
    products: tuple[FareProduct, ...] = ()
    rider_categories: Mapping[str, RiderCategory] = field(default_factory=dict)
    fare_media: Mapping[str, FareMedia] = field(default_factory=dict)
    leg_rules: tuple[FareLegRule, ...] = ()
    has_rule_priority: bool = False
    leg_join_rules: tuple[FareLegJoinRule, ...] = ()
    transfer_rules: tuple[FareTransferRule, ...] = ()
    areas: Mapping[str, str | None] = field(default_factory=dict)
    stop_areas: Mapping[str, frozenset[str]] = field(default_factory=dict)
    parent_stations: Mapping[str, str] = field(default_factory=dict)
    stop_timezones: Mapping[str, str] = field(default_factory=dict)
    networks: Mapping[str, str | None] = field(default_factory=dict)
    route_networks: Mapping[str, str] = field(default_factory=dict)
    timeframes: tuple[Timeframe, ...] = ()
    service_dates: Mapping[str, frozenset[date]] | None = None
    warnings: tuple[FareIssue, ...] = ()
    timetable_warnings: tuple[FareIssue, ...] = ()
    #: How many warnings there were in all: only the first are listed in `warnings`.
    warning_total: int = 0
    timetable_warning_total: int = 0

    def list_product_rows(self, fare_product_id: str) -> tuple[FareProduct, ...]:
        """Return every priced row (rider category x media) of one fare product."""
        return tuple(p for p in self.products if p.fare_product_id == fare_product_id)

    def own_id(self, value: str | None) -> str | None:
        """Return an id in this operator's namespace ("adult" and "op:adult" give "op:adult")."""
        if value is None or value.startswith(f"{self.operator_id}:"):
            return value
        return f"{self.operator_id}:{value}"

    def find_default_rider_category(self) -> RiderCategory | None:
        """Return the rider category marked default, if any."""
        return next((c for c in self.rider_categories.values() if c.is_default), None)


class FareError(ValueError):
    """An itinerary that cannot be priced."""


class NoFareError(FareError):
    """A leg that no fare rule of its operator matches (the fare is unknown)."""

    def __init__(self, leg_index: int, operator_id: str, reason: str) -> None:
        super().__init__(f"leg {leg_index} ({operator_id}): {reason}")
        self.leg_index = leg_index
        self.operator_id = operator_id
        self.reason = reason


class ImpossibleItinerary(FareError):
    """Legs that are not a sequence in time: the same leg twice, or one leaving too early."""

    def __init__(self, leg_index: int, reason: str) -> None:
        super().__init__(f"leg {leg_index}: {reason}")
        self.leg_index = leg_index
        self.reason = reason
