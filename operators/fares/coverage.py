"""What a timetable runs that an operator's fares do not price: routes and service days.

Warned about when a timetable is published: its legs would get no fare (422 `no_fare`),
which the operator should hear at upload, not from a traveller.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from gtfs.tables import GtfsTables
from operators.fares.context import context_from_timetable
from operators.fares.model import FareFeed, FareIssue, FareLegRule

#: Ids named in a warning; the rest are counted.
_EXAMPLES = 5


def coverage_warnings(feed: FareFeed, timetable: GtfsTables) -> list[FareIssue]:
    """Return warnings for the timetable's routes and service days that no leg rule can price."""
    if not feed.leg_rules:
        return []
    return [*_uncovered_routes(feed, timetable), *_uncovered_days(feed, timetable)]


def _network_covered(feed: FareFeed, network_id: str | None) -> bool:
    listed = {r.network_id for r in feed.leg_rules if r.network_id is not None}
    for rule in feed.leg_rules:
        if rule.network_id is not None and rule.network_id == network_id:
            return True
        if rule.network_id is None and (feed.has_rule_priority or network_id not in listed):
            return True
    return False


def _uncovered_routes(feed: FareFeed, timetable: GtfsTables) -> list[FareIssue]:
    routes = sorted(set(timetable.routes["route_id"].dropna().astype(str)))
    missing = [r for r in routes if not _network_covered(feed, feed.route_networks.get(r))]
    if not missing:
        return []
    named = ", ".join(missing[:_EXAMPLES]) + ("..." if len(missing) > _EXAMPLES else "")
    message = (
        f"{len(missing)} route(s) have no fare: no fare leg rule covers their network ({named})"
    )
    return [FareIssue("routes.txt", 0, "network_id", message)]


def _rule_days(
    feed: FareFeed, rule: FareLegRule, service_dates: Mapping[str, frozenset[date]]
) -> set[date] | None:
    """Return the days a rule's timeframes can match (None: every day)."""
    days: set[date] | None = None
    for group in (rule.from_timeframe_group_id, rule.to_timeframe_group_id):
        if group is None:
            continue
        services = {t.service_id for t in feed.timeframes if t.timeframe_group_id == group}
        group_days: set[date] = set().union(*(service_dates.get(s, ()) for s in services))
        days = group_days if days is None else days & group_days
    return days


def _uncovered_days(feed: FareFeed, timetable: GtfsTables) -> list[FareIssue]:
    if feed.service_dates is None:
        return []
    priced: set[date] = set()
    for rule in feed.leg_rules:
        days = _rule_days(feed, rule, feed.service_dates)
        if days is None:
            return []
        priced |= days
    services = frozenset(timetable.trips["service_id"].dropna().astype(str))
    running = context_from_timetable(timetable, services).service_dates or {}
    runs: set[date] = set().union(*running.values())
    missing = sorted(runs - priced)
    if not missing:
        return []
    message = (
        f"{len(missing)} service day(s) from {missing[0]} to {missing[-1]} run trips that no "
        "fare leg rule's timeframe covers: legs on them have no fare"
    )
    return [FareIssue("timeframes.txt", 0, "service_id", message)]
