"""Modes: GTFS route types as the words a release counts trips under."""

from __future__ import annotations

#: GTFS route types (basic and extended) by hundreds, as the words a release uses.
_MODES = {
    0: "tram",
    1: "metro",
    2: "rail",
    3: "bus",
    4: "ferry",
    5: "tram",
    6: "aerial",
    7: "funicular",
    11: "bus",
    12: "rail",
}
_EXTENDED = {
    1: "rail",
    2: "bus",
    4: "metro",
    7: "bus",
    8: "bus",
    9: "tram",
    10: "ferry",
    12: "ferry",
    13: "aerial",
    14: "funicular",
    15: "taxi",
    16: "taxi",
}


def mode_of(route_type: int | None) -> str:
    """Return the mode word of a GTFS route type (`other` when unknown)."""
    if route_type is None:
        return "other"
    if route_type < 100:
        return _MODES.get(route_type, "other")
    return _EXTENDED.get(route_type // 100, "other")
