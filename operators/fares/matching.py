"""Which fare leg rules and product rows apply to a leg: networks, areas, timeframes, riders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from operators.fares.model import FareFeed, FareLegJoinRule, FareLegRule, FareProduct, NoFareError


@dataclass(frozen=True, slots=True)
class Leg:
    """A leg to price: ids are namespaced gateway ids, times are timezone-aware.

    `network_id` overrides the network the fares give the route; `rider_category_id` may be
    the operator's own id ("adult") or namespaced; None means the default category.
    """

    operator_id: str
    route_id: str
    from_stop_id: str
    to_stop_id: str
    departure: datetime
    arrival: datetime
    rider_category_id: str | None = None
    network_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse naive datetimes and arrivals before departures."""
        if self.departure.tzinfo is None or self.arrival.tzinfo is None:
            raise ValueError("leg departure and arrival must be timezone-aware")
        if self.arrival < self.departure:
            raise ValueError("leg arrives before it departs")


@dataclass(frozen=True, slots=True)
class FareLeg:
    """An effective fare leg: one leg, or consecutive legs joined by fare_leg_join_rules."""

    leg_indices: tuple[int, ...]
    network_id: str | None
    from_stop_id: str
    to_stop_id: str
    departure: datetime
    arrival: datetime
    rider_category_id: str | None


@dataclass(frozen=True, slots=True)
class LegOption:
    """A matching leg rule with the product row the rider pays for it."""

    rule: FareLegRule
    product: FareProduct


def find_network(feed: FareFeed, leg: Leg) -> str | None:
    """Return the leg's network: its own, or the one the fares give its route."""
    return leg.network_id or feed.route_networks.get(leg.route_id)


def rider_category_of(feed: FareFeed, leg: Leg) -> str | None:
    """Return the namespaced rider category of a leg (None: the default category)."""
    return feed.own_id(leg.rider_category_id)


def _same_station(feed: FareFeed, a: str, b: str) -> bool:
    return a == b or feed.parent_stations.get(a, a) == feed.parent_stations.get(b, b)


def _at(feed: FareFeed, stop_id: str, wanted: str) -> bool:
    return stop_id == wanted or feed.parent_stations.get(stop_id) == wanted


def _joins(feed: FareFeed, rule: FareLegJoinRule, a: FareLeg, b: FareLeg) -> bool:
    if (rule.from_network_id, rule.to_network_id) != (a.network_id, b.network_id):
        return False
    if rule.from_stop_id is not None and rule.to_stop_id is not None:
        return _at(feed, a.to_stop_id, rule.from_stop_id) and _at(
            feed, b.from_stop_id, rule.to_stop_id
        )
    return _same_station(feed, a.to_stop_id, b.from_stop_id)


def effective_legs(feed: FareFeed, legs: Sequence[tuple[int, Leg]]) -> list[FareLeg]:
    """Turn an operator's legs (with their itinerary index) into effective fare legs."""
    out: list[FareLeg] = []
    previous: FareLeg | None = None
    for index, leg in legs:
        single = FareLeg(
            (index,),
            find_network(feed, leg),
            leg.from_stop_id,
            leg.to_stop_id,
            leg.departure,
            leg.arrival,
            rider_category_of(feed, leg),
        )
        if previous is not None and _joined(feed, previous, single):
            out[-1] = _merge(out[-1], single)
        else:
            out.append(single)
        previous = single
    return out


def _joined(feed: FareFeed, a: FareLeg, b: FareLeg) -> bool:
    adjacent = a.leg_indices[-1] == b.leg_indices[0] - 1
    return adjacent and any(_joins(feed, rule, a, b) for rule in feed.leg_join_rules)


def _merge(first: FareLeg, last: FareLeg) -> FareLeg:
    network = first.network_id if first.network_id == last.network_id else None
    return FareLeg(
        (*first.leg_indices, *last.leg_indices),
        network,
        first.from_stop_id,
        last.to_stop_id,
        first.departure,
        last.arrival,
        first.rider_category_id,
    )


def areas_of(feed: FareFeed, stop_id: str) -> frozenset[str]:
    """Return the areas of a stop, or of its parent station when it has none of its own."""
    own = feed.stop_areas.get(stop_id)
    if own is not None:
        return own
    parent = feed.parent_stations.get(stop_id)
    return feed.stop_areas.get(parent, frozenset()) if parent else frozenset()


def find_event_timezone(feed: FareFeed, stop_id: str) -> str | None:
    """Return the time zone of a fare event at a stop: the stop's, its station's, the feed's."""
    parent = feed.parent_stations.get(stop_id, "")
    return feed.stop_timezones.get(stop_id) or feed.stop_timezones.get(parent) or feed.timezone


def in_timeframe_group(feed: FareFeed, group_id: str, when: datetime, stop_id: str) -> bool:
    """Return whether a fare event at a stop falls in a timeframe group (local day and time)."""
    zone = find_event_timezone(feed, stop_id)
    local = when.astimezone(ZoneInfo(zone)) if zone else when
    day, time_s = local.date(), local.hour * 3600 + local.minute * 60 + local.second
    for frame in feed.timeframes:
        if frame.timeframe_group_id != group_id or not frame.start_s <= time_s < frame.end_s:
            continue
        if feed.service_dates is None or day in feed.service_dates.get(frame.service_id, ()):
            return True
    return False


def _rule_matches(
    feed: FareFeed, rule: FareLegRule, leg: FareLeg, listed: _Listed, areas: _LegAreas
) -> bool:
    from_areas, to_areas = areas
    if rule.network_id is not None:
        network_ok = rule.network_id == leg.network_id
    else:
        network_ok = feed.has_rule_priority or leg.network_id not in listed.networks
    if rule.from_area_id is not None:
        from_ok = rule.from_area_id in from_areas
    else:
        from_ok = feed.has_rule_priority or not from_areas & listed.from_areas
    if rule.to_area_id is not None:
        to_ok = rule.to_area_id in to_areas
    else:
        to_ok = feed.has_rule_priority or not to_areas & listed.to_areas
    return network_ok and from_ok and to_ok and _timeframes_match(feed, rule, leg)


def _timeframes_match(feed: FareFeed, rule: FareLegRule, leg: FareLeg) -> bool:
    start, end = rule.from_timeframe_group_id, rule.to_timeframe_group_id
    return (start is None or in_timeframe_group(feed, start, leg.departure, leg.from_stop_id)) and (
        end is None or in_timeframe_group(feed, end, leg.arrival, leg.to_stop_id)
    )


_LegAreas = tuple[frozenset[str], frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Listed:
    networks: frozenset[str | None]
    from_areas: frozenset[str]
    to_areas: frozenset[str]


def _listed(feed: FareFeed) -> _Listed:
    rules = feed.leg_rules
    return _Listed(
        frozenset(r.network_id for r in rules if r.network_id),
        frozenset(r.from_area_id for r in rules if r.from_area_id),
        frozenset(r.to_area_id for r in rules if r.to_area_id),
    )


def list_matching_leg_rules(feed: FareFeed, leg: FareLeg) -> list[FareLegRule]:
    """Return the leg rules a leg matches (with rule_priority: only the highest priority)."""
    listed = _listed(feed)
    areas = (areas_of(feed, leg.from_stop_id), areas_of(feed, leg.to_stop_id))
    matching = [r for r in feed.leg_rules if _rule_matches(feed, r, leg, listed, areas)]
    if feed.has_rule_priority and matching:
        top = max(r.rule_priority for r in matching)
        matching = [r for r in matching if r.rule_priority == top]
    return matching


def list_product_rows(
    feed: FareFeed, fare_product_id: str, rider_category_id: str | None, fare_media_id: str | None
) -> list[FareProduct]:
    """Return the rows of a product the rider may use (category and media), cheapest first."""
    category = rider_category_id
    if category is None:
        default = feed.find_default_rider_category()
        category = None if default is None else default.rider_category_id
    rows = [
        p
        for p in feed.list_product_rows(fare_product_id)
        if p.rider_category_id in (None, category)
        and (fare_media_id is None or p.fare_media_id in (None, fare_media_id))
    ]
    return sorted(rows, key=lambda p: p.amount_minor)


def list_leg_options(
    feed: FareFeed, leg: FareLeg, leg_index: int, fare_media_id: str | None
) -> list[LegOption]:
    """Return every way to pay a fare leg; raise `NoFareError` when there is none."""
    category = leg.rider_category_id
    if category is not None and feed.rider_categories and category not in feed.rider_categories:
        raise NoFareError(leg_index, feed.operator_id, f"unknown rider category {category!r}")
    rules = list_matching_leg_rules(feed, leg)
    if not rules:
        raise NoFareError(leg_index, feed.operator_id, "no fare leg rule matches this leg")
    options = [
        LegOption(rule, rows[0])
        for rule in rules
        if (rows := list_product_rows(feed, rule.fare_product_id, category, fare_media_id))
    ]
    if not options:
        reason = "no fare product of the matching rules is sold to this rider and media"
        raise NoFareError(leg_index, feed.operator_id, reason)
    return options
