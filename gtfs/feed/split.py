"""Split a feed by agency: each agency of a shared feed becomes an operator of its own."""

from __future__ import annotations

from dataclasses import dataclass

import gtfs_kit as gk

from gtfs.feed.validate.issues import FeedInvalid, FeedIssue


@dataclass(frozen=True, slots=True)
class AgencyOperator:
    """Which operator an agency of a shared feed becomes."""

    agency_id: str
    operator_id: str
    name: str


def list_agency_ids(feed: gk.Feed) -> list[str]:
    """Return the feed's agency ids (empty when agency.txt has no agency_id column)."""
    if "agency_id" not in feed.agency:
        return []
    return [str(a) for a in feed.agency["agency_id"].dropna().tolist()]


def restrict_to_agency(feed: gk.Feed, agency_id: str) -> gk.Feed:
    """Return the part of the feed one agency runs: its routes, trips and what they use."""
    if agency_id not in list_agency_ids(feed):
        known = ", ".join(list_agency_ids(feed)) or "none"
        message = f"agency {agency_id!r} is not in the feed (agencies: {known})"
        raise FeedInvalid([FeedIssue("agency.txt", None, "agency_id", message)])
    return gk.restrict_to_agencies(feed, [agency_id])


def split_by_agency(feed: gk.Feed, operators: tuple[AgencyOperator, ...]) -> dict[str, gk.Feed]:
    """Return {operator id: that operator's part of the feed}."""
    return {op.operator_id: restrict_to_agency(feed, op.agency_id) for op in operators}
