"""Errors of the journey planner; the HTTP layer maps each to a problem with a stable code."""

from __future__ import annotations


class JourneyError(Exception):
    """Base of every planner error; `code` is stable for problem+json."""

    code = "journey_error"


class UnknownStopError(JourneyError):
    """A stop id is not in the timetable."""

    code = "unknown_stop"

    def __init__(self, stop_id: str) -> None:
        """Name the stop that is not known."""
        super().__init__(f"unknown stop {stop_id!r}")
        self.stop_id = stop_id


class OutsideNetworkError(JourneyError):
    """Coordinates have no stop within walking distance."""

    code = "outside_network"

    def __init__(self, lat: float, lon: float, radius_m: float) -> None:
        """Name the coordinates and the radius searched."""
        super().__init__(f"no stop within {radius_m:.0f} m of ({lat:.6f}, {lon:.6f})")
        self.lat, self.lon, self.radius_m = lat, lon, radius_m


class OutsideServiceError(JourneyError):
    """The date is outside every feed's service period."""

    code = "date_outside_service"

    def __init__(self, day: str, first: str, last: str) -> None:
        """Name the date and the period the timetable covers."""
        super().__init__(f"{day} is outside the timetable's service period {first}..{last}")
        self.day, self.first, self.last = day, first, last


class InvalidQueryError(JourneyError):
    """A query parameter is out of range (naive datetime, negative window, ...)."""

    code = "invalid_query"
